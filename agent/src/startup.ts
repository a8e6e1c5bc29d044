import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs'
import { isAgentError, type ErrorCode } from './errors.js'
import { AgentError } from './errors.js'
import type { ResolvedConfig } from './config/load.js'

/**
 * health-agent's exit codes for a start that fails, one per cause, none the usage code (2), so
 * that a unit or a script can tell a typo in a flag from a port in use. Values from sysexits.h.
 */
export const AGENT_EXIT = {
  /** the command line is wrong (an unknown flag, a stray argument) */
  USAGE: 2,
  /** the settings are wrong: a bad value, an unreadable or invalid config file */
  CONFIG: 78,
  /** the data dir or one of its files cannot be created, read or written */
  FILES: 73,
  /** a listen address is in use or not allowed; may pass by itself (systemd restarts) */
  LISTEN: 75,
  UNEXPECTED: 1,
} as const

const EXIT_OF: Partial<Record<ErrorCode, number>> = {
  AGENT_ERR_CONFIG: AGENT_EXIT.CONFIG,
  AGENT_ERR_CONFIG_FILE: AGENT_EXIT.CONFIG,
  AGENT_ERR_STATE_FILE: AGENT_EXIT.FILES,
  AGENT_ERR_STATE_PARSE: AGENT_EXIT.FILES,
  AGENT_ERR_TOKEN_FILE: AGENT_EXIT.FILES,
  AGENT_ERR_LISTEN: AGENT_EXIT.LISTEN,
}

export function startupExitCode(err: unknown): number {
  return (isAgentError(err) && EXIT_OF[err.code]) || AGENT_EXIT.UNEXPECTED
}

/** Creates the data dir if needed and checks that the agent can write in it, before anything else is made. */
export function checkDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true })
    accessSync(dataDir, constants.W_OK | constants.X_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new AgentError(
      'AGENT_ERR_STATE_FILE',
      `data dir ${dataDir} is not writable (${code}): give it to the agent's user, or set HEALTH_AGENT_DATA_DIR`,
      { cause: err },
    )
  }
}

/**
 * What a start creates on disk (the data dir, state, audit, token and weight files), noted before
 * the start so that a start that fails removes what it made and leaves what was there.
 */
export class StartupFiles {
  private readonly absent: string[]

  constructor(config: ResolvedConfig) {
    const paths = [config.stateFile, config.auditFile, config.tokenFile, config.weightFile]
    this.absent = paths.filter((path) => !existsSync(path))
    this.dataDirWasAbsent = !existsSync(config.dataDir)
    this.dataDir = config.dataDir
  }

  private readonly dataDirWasAbsent: boolean
  private readonly dataDir: string

  removeCreated(): void {
    for (const path of this.absent) {
      try {
        unlinkSync(path)
      } catch {
        // not created, or already gone
      }
    }
    try {
      if (this.dataDirWasAbsent && readdirSync(this.dataDir).length === 0) rmdirSync(this.dataDir)
    } catch {
      // not created
    }
  }
}
