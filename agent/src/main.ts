#!/usr/bin/env node
import { buildAgent, type Agent } from './app.js'
import { parseCommandLine, settingsHelp } from './config/args.js'
import { formatListenAddress, isLoopbackHost, parseListenAddress } from './config/listen-address.js'
import { loadConfig, type ResolvedConfig } from './config/load.js'
import { AgentError } from './errors.js'
import { listenOn } from './listen.js'
import { createLogger, type AgentLogger } from './logger.js'
import { PACKAGE_NAME, PACKAGE_VERSION, VERSION_LINE } from './package-info.js'
import { AGENT_EXIT, checkDataDir, startupExitCode, StartupFiles } from './startup.js'

const HELP = `Usage: health-agent [options]

Answers the load balancers' health check for one Tomcat: 200 ready, 404 drain, 500 down,
from the admin state in the state file (set it with agentctl, the admin API or a shell write).
Settings come from defaults, --config FILE, HEALTH_AGENT_* variables and flags, later winning.

Options:
${settingsHelp()}
  --help                          show this text
  --version                       print the version (and Node's)

Exit codes when the start fails: ${AGENT_EXIT.USAGE} bad command line, ${AGENT_EXIT.CONFIG} bad settings or config file,
${AGENT_EXIT.FILES} data dir or its files not writable or readable, ${AGENT_EXIT.LISTEN} cannot listen (address in use),
${AGENT_EXIT.UNEXPECTED} anything else; each with one line on standard error.
`

/** A wrong command line, told apart from wrong settings by its exit code. */
class UsageError extends Error {}

function parseArgv(argv: string[]) {
  try {
    const cli = parseCommandLine(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' }, config: { type: 'string' } })
    if (cli.positionals.length > 0 && !cli.options.help && !cli.options.version)
      throw new Error(`unexpected argument "${cli.positionals[0]}" (see --help)`)
    return cli
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err })
  }
}

async function run(argv: string[]): Promise<void> {
  // ps, pgrep and systemctl status show the command, not the executable's name or the thread name
  // ("MainThread") that Node 24 gives its main thread: the title is also the kernel's comm.
  process.title = 'health-agent'
  const cli = parseArgv(argv)
  if (cli.options.help) {
    process.stdout.write(HELP)
    return
  }
  if (cli.options.version) {
    process.stdout.write(`${VERSION_LINE}\n`)
    return
  }
  const config = loadConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  const created = new StartupFiles(config)
  checkDataDir(config.dataDir)
  const log = await createLogger({ level: config.logLevel, file: config.logFile || undefined })
  let agent: Agent | null = null
  try {
    agent = buildAgent(config, log.logger)
    await agent.start()
    const started = await listenAll(agent, config)
    installSignalHandlers(agent, log)
    warnIfAdminExposed(config, log)
    logStarted(config, agent, started, log)
  } catch (err) {
    // A start that fails closes what it opened and removes what it made: no listener left,
    // no fresh token or state file to be mistaken for a working install.
    await agent?.close().catch(() => undefined)
    created.removeCreated()
    log.logger.fatal({ err: (err as Error).message }, 'start failed')
    await log.end()
    throw err
  }
}

async function listenAll(agent: Agent, config: ResolvedConfig) {
  const health = await listenOn(agent.health, config.listen)
  const admin = await listenOn(agent.admin, config.adminListen)
  const agentCheck = agent.agentCheck ? await agent.agentCheck.listen(config.agentCheckListen) : null
  return { health, admin, agentCheck }
}

function logStarted(config: ResolvedConfig, agent: Agent, started: Awaited<ReturnType<typeof listenAll>>, log: AgentLogger): void {
  const { health, admin, agentCheck } = started
  log.logger.info(
    {
      version: PACKAGE_VERSION,
      health: formatListenAddress(health),
      admin: formatListenAddress(admin),
      agentCheck: agentCheck ? formatListenAddress(agentCheck) : null,
      checkPath: config.checkPath,
      stateFile: config.stateFile,
      auditFile: config.auditFile,
      tokenFile: config.tokenFile,
      configFile: config.configFile,
      state: agent.core.verdict().state,
    },
    `${PACKAGE_NAME} ${PACKAGE_VERSION}: health on ${formatListenAddress(health)}${config.checkPath}, admin on ${formatListenAddress(admin)}${agentCheck ? `, agent check on ${formatListenAddress(agentCheck)}` : ''}, state file ${config.stateFile}`,
  )
}

function warnIfAdminExposed(config: ResolvedConfig, log: AgentLogger): void {
  const address = parseListenAddress(config.adminListen)
  if (address?.kind === 'tcp' && !isLoopbackHost(address.host)) {
    log.logger.warn(
      { adminListen: config.adminListen },
      'admin listener is not on loopback: it is reachable from the network (token still required)',
    )
  }
}

function installSignalHandlers(agent: Agent, log: AgentLogger): void {
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    log.logger.info({ signal }, 'closing listeners')
    agent
      .close()
      .then(() => log.logger.info('stopped'))
      .catch((err: unknown) => {
        log.logger.error({ err }, 'error while closing')
        process.exitCode = 1
      })
      .finally(() => log.end())
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    log.reopen()
    agent.core.reopenFiles()
    log.logger.info('reopened the log and audit files (SIGHUP)')
  })
}

run(process.argv.slice(2)).catch((err: unknown) => {
  const code = err instanceof UsageError ? AGENT_EXIT.USAGE : startupExitCode(err)
  const known = err instanceof UsageError || err instanceof AgentError
  // One line whatever happened: a unit's journal and a script's caller read the last line, and a
  // stack names the build machine's paths, not the operator's problem.
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`health-agent: ${known ? message : `unexpected error: ${message.split('\n')[0]}`}\n`)
  process.exitCode = code
  // Whatever a failed start left running (a timer, a watcher) must not keep the process alive.
  setImmediate(() => process.exit())
})
