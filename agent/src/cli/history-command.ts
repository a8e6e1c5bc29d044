import type { AuditTail, HistoryEntry } from '../protocol/status.js'
import { HistoryQuerySchema } from '../protocol/requests.js'
import { validateRequest } from '../protocol/validate.js'
import { UsageError } from './exit-codes.js'
import { parseDuration } from './weight-command.js'

/** `--since`: an ISO time, or a duration back from now (`2h`, `1d`). Returns the query for `/v1/history`. */
export function historyQuery(since: string | undefined, limit: string | undefined, now = Date.now()): string {
  const params = new URLSearchParams()
  if (since !== undefined) {
    const back = parseDuration(since)
    const at = back !== null ? now - back * 1000 : Date.parse(since)
    if (Number.isNaN(at))
      throw new UsageError(`--since: expected an ISO time (2026-11-30T08:00:00Z) or a duration back from now (90m, 2h, 1d), got "${since}"`)
    params.set('since', new Date(at).toISOString())
  }
  if (limit !== undefined) {
    try {
      validateRequest(HistoryQuerySchema, { limit }, 'query')
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^"limit"/, '--limit'))
    }
    params.set('limit', limit)
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

export function formatLasted(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return `${d}d${h}h`
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`
  return `${m}m${String(s % 60).padStart(2, '0')}s`
}

function line(e: HistoryEntry): string {
  const change = `${e.from ?? '-'} -> ${e.to}`.padEnd(16)
  const lasted = (e.current ? `${formatLasted(e.durationMs)} so far` : formatLasted(e.durationMs)).padEnd(13)
  const until = e.until ? ` (until ${e.until})` : ''
  return `${e.time}  ${change} ${lasted} ${e.source.padEnd(8)} ${e.by ?? '-'}${e.reason ? `: ${e.reason}` : ''}${until}`
}

/** The table `agentctl history` prints, oldest first. */
export function describeHistory(tail: AuditTail): string {
  if (tail.entries.length === 0) return `no state changes in the audit log${tail.truncated ? ' (only its end was read)' : ''}\n`
  const head = `${'when'.padEnd(24)}  ${'change'.padEnd(16)} ${'lasted'.padEnd(13)} ${'source'.padEnd(8)} who: why`
  const lines = [head, ...tail.entries.map(line)]
  if (tail.truncated) lines.push('(older changes exist: only the end of the audit log was read)')
  return `${lines.join('\n')}\n`
}
