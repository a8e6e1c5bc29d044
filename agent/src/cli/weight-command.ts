import { WEIGHT_HINTS, WeightRequestSchema, weightPercent, type WeightRequest } from '../protocol/requests.js'
import type { AgentStatus } from '../protocol/status.js'
import { validateRequest } from '../protocol/validate.js'
import { UsageError } from './exit-codes.js'

export type WeightCommand = { action: 'set'; percent: number; expiresInSeconds?: number } | { action: 'clear' }

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** `90`, `90s`, `10m`, `2h`, `1d`, or a sum such as `1h30m`, in whole seconds. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  if (!/^(\d+[smhd])+$/.test(trimmed)) return null
  let seconds = 0
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhd])/g)) seconds += Number(amount) * (UNITS[unit as string] as number)
  return seconds
}

/** `agentctl weight 50% [--for 10m]` or `agentctl weight clear`. */
export function parseWeightArgs(args: string[], forText: string | undefined): WeightCommand {
  const [value, ...rest] = args
  if (value === undefined) throw new UsageError('weight: expected a percentage such as 50% or "clear" (see --help)')
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" after weight ${value}`)
  if (value === 'clear') {
    if (forText !== undefined) throw new UsageError('--for goes with weight N%, not weight clear')
    return { action: 'clear' }
  }
  let percent: number
  try {
    percent = weightPercent(validateRequest<WeightRequest>(WeightRequestSchema, { weight: value }).weight)
  } catch {
    const expected = WeightRequestSchema.properties.weight.description as string
    throw new UsageError(`weight: expected ${expected} or "clear", got ${JSON.stringify(value)}${WEIGHT_HINTS.weight(value)}`)
  }
  if (forText === undefined) return { action: 'set', percent }
  const seconds = parseDuration(forText)
  if (seconds === null || seconds < 1) throw new UsageError(`--for: expected a duration such as 600, 90s, 10m, 2h or 1d, got "${forText}"`)
  return { action: 'set', percent, expiresInSeconds: seconds }
}

/** The request body for the admin API. */
export function weightRequest(
  command: WeightCommand,
  who: { reason?: string; by: string },
): { method: 'PUT' | 'DELETE'; body: Record<string, unknown> } {
  if (command.action === 'clear') return { method: 'DELETE', body: { reason: who.reason, by: who.by } }
  return {
    method: 'PUT',
    body: { weight: `${command.percent}%`, expiresInSeconds: command.expiresInSeconds, reason: who.reason, by: who.by },
  }
}

export function describeWeightChange(command: WeightCommand, after: AgentStatus): string {
  const now = `the agent check now reports ${after.weight.percent}%`
  if (command.action === 'clear') return `weight: override cleared; ${now} (${after.weight.source})`
  const until = after.weight.override?.until ? ` until ${after.weight.override.until}` : ' until cleared'
  const note = after.agentCheck.listen ? '' : '\nnote: the agent check is off (--agent-check-listen): HAProxy sees no weight until it is on'
  return `weight: override ${command.percent}%${until}; ${now}${note}`
}
