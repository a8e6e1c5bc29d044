import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import { GetError, httpGet } from './http-get.js'
import type { ProbeSettings } from './settings.js'
import type { ProbeResult } from '../protocol/status.js'
export type { ProbeResult }

export const PROBE_USER_AGENT = `${PACKAGE_NAME}/${PACKAGE_VERSION} (probe)`
const MAX_BODY = 64 * 1024
const LOST_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE'])

function connectionLost(err: unknown): boolean {
  if (!(err instanceof GetError)) return false
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code
  return (code !== undefined && LOST_CODES.has(code)) || err.message === 'answer cut short'
}

/** GETs the probe URL once: a pass needs an accepted status (and a body matching, when set) within the timeout. */
export async function probeTomcat(settings: ProbeSettings, signal?: AbortSignal): Promise<ProbeResult> {
  const at = new Date().toISOString()
  try {
    const answer = await httpGet(settings.url, {
      timeoutMs: settings.timeoutMs,
      headers: { 'user-agent': PROBE_USER_AGENT, accept: '*/*' },
      maxBody: settings.expectBody ? MAX_BODY : 0,
      signal,
    })
    const base = { at, latencyMs: answer.latencyMs, status: answer.status, connectionLost: false }
    if (!settings.expectStatus(answer.status)) {
      return { ...base, ok: false, error: `HTTP ${answer.status} (expected ${settings.expectStatus.text})` }
    }
    if (settings.expectBody && !settings.expectBody.test(answer.body)) {
      return { ...base, ok: false, error: `HTTP ${answer.status} but the body does not match /${settings.expectBody.source}/` }
    }
    return { ...base, ok: true, error: null }
  } catch (err) {
    const latencyMs = err instanceof GetError ? err.latencyMs : 0
    return { ok: false, at, latencyMs, status: null, error: (err as Error).message, connectionLost: connectionLost(err) }
  }
}
