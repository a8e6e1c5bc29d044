import type { Verdict } from '../state/effective.js'

/** The admin or health word of an agent-check answer; HAProxy shows it on its stats page. */
export type AgentWord = 'ready' | 'drain' | 'maint' | 'down'

export interface ReplyInputs {
  verdict: Pick<Verdict, 'state' | 'cause' | 'why'>
  /** Weight in percent of the server's configured HAProxy weight (integer, 1 to 100). */
  weightPercent: number
  /** The operator's reason for the admin state, shown after drain and maint. */
  adminReason?: string | null
  /** Why the weight is what it is (ramp, override), shown after ready. */
  weightNote?: string | null
}

export interface AgentReply {
  word: AgentWord
  /** The whole line, ending in `\n`. */
  line: string
}

/**
 * The documented mapping, effective state to HAProxy words. Every answer carries the weight so
 * that a server coming back from drain, maint or down is already at the ramp's start weight when
 * HAProxy applies `ready`, never for a moment at its full weight.
 *
 * - ready: `ready up N%`: clears an agent (or CLI) drain/maint, marks it up, sets the weight.
 * - drain: `drain N%`: no new sessions except persistent ones (`DRAIN (agent)`).
 * - down because an operator said so (cause admin): `maint N%`: no traffic at all (`MAINT`).
 * - down for any other cause (Tomcat dead, warming up, no readable state): `down N%` (`DOWN (agent)`).
 */
/** HAProxy keeps a check description of about 128 bytes; the rest would be cut anyway. */
export const MAX_DESCRIPTION = 100

/**
 * Makes free text safe after `#`: one line of printable ASCII (a line break would end the answer
 * early and let the rest be read as words), spaces collapsed, cut to MAX_DESCRIPTION.
 */
export function sanitizeDescription(text: string | null | undefined): string {
  if (!text) return ''
  const clean = text
    .replace(/[^\x20-\x7e]/g, (c) => (/\s/.test(c) ? ' ' : '?'))
    .replace(/ +/g, ' ')
    .trim()
  return clean.length > MAX_DESCRIPTION ? `${clean.slice(0, MAX_DESCRIPTION - 3)}...` : clean
}

export function wordFor(verdict: Pick<Verdict, 'state' | 'cause'>): AgentWord {
  switch (verdict.state) {
    case 'ready':
      return 'ready'
    case 'drain':
      return 'drain'
    default:
      return verdict.cause === 'admin' ? 'maint' : 'down'
  }
}

function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) return 100
  return Math.min(100, Math.max(1, Math.round(percent)))
}

/** The one line answered to HAProxy's agent check, from the verdict of the moment. */
export function agentReply(inputs: ReplyInputs): AgentReply {
  const word = wordFor(inputs.verdict)
  const weight = `${clampPercent(inputs.weightPercent)}%`
  const words = word === 'ready' ? ['ready', 'up', weight] : [word, weight]
  const note = word === 'ready' ? inputs.weightNote : word === 'down' ? (inputs.verdict.why ?? inputs.adminReason) : inputs.adminReason
  const description = sanitizeDescription(note)
  // `#` must begin a word of its own: HAProxy reads everything after it as the description.
  if (description) words.push(`#${description}`)
  return { word, line: `${words.join(' ')}\n` }
}
