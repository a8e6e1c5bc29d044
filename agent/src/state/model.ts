export const ADMIN_STATES = ['ready', 'drain', 'down'] as const
export type AdminState = (typeof ADMIN_STATES)[number]

/** What the load balancers are told for each state, through `option httpchk` + `disable-on-404`. */
export const HTTP_STATUS_OF: Readonly<Record<AdminState, number>> = { ready: 200, drain: 404, down: 500 }

export function isAdminState(value: unknown): value is AdminState {
  return typeof value === 'string' && (ADMIN_STATES as readonly string[]).includes(value)
}

/** One line of the state file, e.g. `drain reason="deploy v42" by=alice since=2026-11-26T10:00:00.000Z`. */
export interface StateRecord {
  state: AdminState
  reason?: string
  by?: string
  /** ISO time the state was set; the agent fills it in when a shell write leaves it out. */
  since?: string
  /** ISO time at which a drain or down set for a while ends by itself (see expiry.ts). */
  until?: string
}

/** Far more than the longest line the agent writes (a state, a reason and an author of 500 characters each). */
const MAX_STATE_TEXT = 8 * 1024

const KNOWN_KEYS = ['reason', 'by', 'since', 'until'] as const
type KnownKey = (typeof KNOWN_KEYS)[number]

/** A short, escaped prefix of a bad input for an error message: the input itself may be huge or binary. */
export function quotePrefix(text: string, max = 60): string {
  return text.length > max ? `${JSON.stringify(text.slice(0, max))}... (${text.length} characters)` : JSON.stringify(text)
}

export type ParseResult = { ok: true; record: StateRecord; warnings: string[] } | { ok: false; kind: 'empty' | 'invalid'; error: string }

/** Splits `word key=value key="quoted value"` into tokens; null when a quote is left open (a half-written line). */
function tokenize(line: string): string[][] | null {
  const tokens: string[][] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++
    if (i >= line.length) break
    let key = ''
    while (i < line.length && line[i] !== '=' && line[i] !== ' ' && line[i] !== '\t') key += line[i++]
    if (line[i] !== '=') {
      tokens.push([key])
      continue
    }
    i++
    let value = ''
    if (line[i] === '"') {
      i++
      let closed = false
      while (i < line.length) {
        const c = line[i++] as string
        if (c === '\\' && i < line.length) value += line[i++]
        else if (c === '"') {
          closed = true
          break
        } else value += c
      }
      if (!closed) return null
      if (i < line.length && line[i] !== ' ' && line[i] !== '\t') return null
    } else {
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') value += line[i++]
    }
    tokens.push([key, value])
  }
  return tokens
}

/**
 * Parses the state file. Blank lines and lines starting with `#` are ignored; exactly one line
 * must remain. Anything else (no line, two lines, an unknown word, an open quote) is refused, so
 * that a half-written or mistyped file is never taken for a state.
 */
export function parseStateText(text: string): ParseResult {
  if (text.length > MAX_STATE_TEXT) {
    return { ok: false, kind: 'invalid', error: `expected one state line of at most ${MAX_STATE_TEXT} characters, got ${text.length}` }
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'))
  if (lines.length === 0) return { ok: false, kind: 'empty', error: 'the state file is empty' }
  if (lines.length > 1) {
    return { ok: false, kind: 'invalid', error: `expected one state line, found ${lines.length}` }
  }
  const line = lines[0] as string
  const tokens = tokenize(line)
  if (!tokens) return { ok: false, kind: 'invalid', error: `unterminated quote in ${quotePrefix(line)}` }
  const [first, ...rest] = tokens
  const word = first?.length === 1 ? (first[0] as string).toLowerCase() : ''
  if (!isAdminState(word)) {
    return {
      ok: false,
      kind: 'invalid',
      error: `expected a state (${ADMIN_STATES.join(', ')}) at the start of the line, got ${quotePrefix(line)}`,
    }
  }
  const record: StateRecord = { state: word }
  const warnings: string[] = []
  for (const token of rest) {
    if (token.length === 1) {
      return { ok: false, kind: 'invalid', error: `expected key=value after the state, got ${quotePrefix(token[0] as string)}` }
    }
    const [key, value] = token as [string, string]
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      warnings.push(`unknown key "${key}" ignored (known: ${KNOWN_KEYS.join(', ')})`)
      continue
    }
    if ((key === 'since' || key === 'until') && Number.isNaN(Date.parse(value))) {
      return { ok: false, kind: 'invalid', error: `${key}= expects an ISO time, got ${quotePrefix(value)}` }
    }
    record[key as KnownKey] = value
  }
  if (record.state === 'ready' && record.until !== undefined) {
    delete record.until
    warnings.push('until= applies to drain and down only: ignored on ready')
  }
  return { ok: true, record, warnings }
}

function quoteIfNeeded(value: string): string {
  return /^[^\s"\\=]+$/.test(value) ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}

/** The one line the agent writes; parseStateText(formatStateRecord(r)) gives r back. */
export function formatStateRecord(record: StateRecord): string {
  const parts: string[] = [record.state]
  for (const key of KNOWN_KEYS) {
    const value = record[key]
    if (value !== undefined && value !== '') parts.push(`${key}=${quoteIfNeeded(value)}`)
  }
  return `${parts.join(' ')}\n`
}

/** Same state, reason, author and expiry: a re-read of what is already in force. */
export function sameRecord(a: StateRecord, b: StateRecord): boolean {
  return (
    a.state === b.state && (a.reason ?? '') === (b.reason ?? '') && (a.by ?? '') === (b.by ?? '') && (a.until ?? '') === (b.until ?? '')
  )
}
