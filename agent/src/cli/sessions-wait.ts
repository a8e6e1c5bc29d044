import { setTimeout as delay } from 'node:timers/promises'
import type { AgentStatus } from '../protocol/status.js'
import { callAgent, type AgentEndpoint } from './admin-client.js'
import { UsageError } from './exit-codes.js'

const REQUEST_TIMEOUT_MS = 10_000
const POLL_MS = 500

/** Active sessions per watched context, from a manager reading taken at or after `since`; null before one. */
export function sessionsSince(status: AgentStatus, since: number): Record<string, number> | null {
  const manager = status.tomcat.manager
  if (!manager)
    throw new UsageError('--wait-sessions needs the agent to read the Tomcat manager (its --tomcat-manager-url): it cannot count sessions')
  const { sessions, at } = manager.signals
  if (!sessions || !at || Date.parse(at) < since) return null
  return sessions
}

const describe = (sessions: Record<string, number>) =>
  Object.entries(sessions)
    .map(([context, n]) => `${context}=${n}`)
    .join(' ')

/**
 * After a confirmed drain: waits until Tomcat reports no active session on the watched contexts
 * (sticky users have left, or their sessions expired), at most `maxS` seconds. Past the maximum
 * it goes on and says what a restart now loses. Progress on standard error, the outcome on
 * standard output; always exit 0 (the drain itself is confirmed).
 */
export async function waitSessions(endpoint: AgentEndpoint, token: string, maxS: number): Promise<void> {
  const started = Date.now()
  let said = ''
  for (;;) {
    const status = await callAgent<AgentStatus>(endpoint, token, 'GET', '/v1/status', undefined, REQUEST_TIMEOUT_MS)
    const sessions = sessionsSince(status, started)
    const total = sessions ? Object.values(sessions).reduce((a, b) => a + b, 0) : null
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    if (sessions && total === 0) {
      process.stdout.write(`sessions: none left (${describe(sessions)}) after ${seconds} s: stopping Tomcat loses no session\n`)
      return
    }
    if (Date.now() - started >= maxS * 1000) {
      process.stdout.write(
        sessions
          ? `sessions: ${total} active after the maximum ${maxS}s (${describe(sessions)}): a restart now logs those users out\n`
          : `sessions: no manager reading within the maximum ${maxS}s: the sessions a restart loses are unknown\n`,
      )
      return
    }
    const line = sessions ? `waiting for ${total} active session(s) to end (${describe(sessions)})` : 'waiting for a manager reading'
    if (line !== said) process.stderr.write(`sessions: ${line}\n`)
    said = line
    await delay(POLL_MS)
  }
}
