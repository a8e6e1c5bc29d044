import { setTimeout as delay } from 'node:timers/promises'
import type { ClientConfig } from '../config/load.js'
import type { AgentStatus } from '../protocol/status.js'
import { agentTarget } from './agent-target.js'
import { callAgent } from './admin-client.js'
import { EXIT, UsageError } from './exit-codes.js'
import { parseDuration } from './weight-command.js'
import { takerOf } from '../tomcat/versions.js'

const REQUEST_TIMEOUT_MS = 10_000
const POLL_MS = 200
const DEFAULT_TIMEOUT_S = 120
const OPEN_PHASES = ['none', 'skipped', 'passed', 'ready-anyway']

/** Where the agent stands with version V: still to see it, warming it up, warm, or failed. */
export function versionProgress(status: AgentStatus, version: string): { done: boolean; failed: string | null; line: string } {
  const manager = status.tomcat.manager
  if (!manager) throw new UsageError('the agent does not read the Tomcat manager (set its --tomcat-manager-url): it cannot follow versions')
  const contexts = Object.entries(manager.signals.versions ?? {})
  const newestOf = contexts.find(([, versions]) => takerOf(versions)?.version === version)
  if (!newestOf) return { done: false, failed: null, line: `the agent has not seen ${version} as the newest version yet` }
  const warmup = status.tomcat.warmup
  if (!warmup) return { done: true, failed: null, line: `${newestOf[0]}##${version} takes new sessions (no warm-up configured)` }
  if (warmup.version !== version) return { done: false, failed: null, line: `the warm-up of ${version} has not begun yet` }
  if (OPEN_PHASES.includes(warmup.phase))
    return { done: true, failed: null, line: `${newestOf[0]}##${version} warmed up: ${warmup.done} requests, ${warmup.failed} failed` }
  if (warmup.phase === 'failed')
    return {
      done: false,
      failed: `the warm-up of ${newestOf[0]}##${version} failed: ${warmup.failed} of ${warmup.done} requests failed (at most ${warmup.maxFailures} allowed)${warmup.lastError ? `, last: ${warmup.lastError}` : ''}`,
      line: '',
    }
  return { done: false, failed: null, line: `warming ${version} up: ${warmup.done} requests done, ${warmup.failed} failed` }
}

/** `agentctl tomcat wait-version V`: 0 once the agent has V as the newest version, warmed up; 1 if the warm-up failed or time ran out. */
export async function waitVersion(config: ClientConfig, version: string, timeoutText: string | undefined): Promise<number> {
  const timeoutS = timeoutText === undefined ? DEFAULT_TIMEOUT_S : parseDuration(timeoutText)
  if (timeoutS === null || timeoutS < 1)
    throw new UsageError(`--timeout: expected a duration such as 120, 90s or 10m, got ${JSON.stringify(timeoutText)}`)
  const { endpoint, token } = agentTarget(config)
  const endAt = Date.now() + timeoutS * 1000
  let said = ''
  for (;;) {
    const status = await callAgent<AgentStatus>(endpoint, token, 'GET', '/v1/status', undefined, REQUEST_TIMEOUT_MS)
    const progress = versionProgress(status, version)
    if (progress.failed) {
      process.stderr.write(`agentctl: ${progress.failed}\n`)
      return EXIT.NOT_REACHED
    }
    if (progress.done) {
      process.stdout.write(`${progress.line}\n`)
      return EXIT.OK
    }
    if (progress.line !== said) process.stderr.write(`wait-version: ${progress.line}\n`)
    said = progress.line
    if (Date.now() >= endAt) {
      process.stderr.write(`agentctl: ${version} not warmed up within ${timeoutS}s: ${progress.line}\n`)
      return EXIT.NOT_REACHED
    }
    await delay(POLL_MS)
  }
}
