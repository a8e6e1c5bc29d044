/**
 * Tomcat's AccessLogValve pattern (https://tomcat.apache.org/tomcat-10.1-doc/config/valve.html#Access_Log_Valve),
 * turned into a parser of the lines it writes. Only the status and the time taken are kept.
 */

export interface AccessEntry {
  status: number
  /** Time Tomcat took to process the request, in seconds. */
  seconds: number
}

export interface AccessLineParser {
  (line: string): AccessEntry | null
  readonly pattern: string
}

const ALIASES: Record<string, string> = {
  common: '%h %l %u %t "%r" %s %b',
  combined: '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-Agent}i"',
}

/** Single-letter codes that never hold a space. %t (a bracketed date) and %r (the request line) are handled apart. */
const WORD_CODES = new Set('aAbBhHIlmpqsSuUvXDTF'.split(''))

/** What a time code's number is divided by to give seconds (Tomcat 10: %D microseconds, %T seconds, %F milliseconds). */
const TIME_UNITS: Record<string, number> = { D: 1e6, T: 1, F: 1e3, 'us:T': 1e6, 'ms:T': 1e3, 'fractional:T': 1 }

const ENTITIES: Record<string, string> = { '&quot;': '"', '&amp;': '&', '&lt;': '<', '&gt;': '>', '&apos;': "'" }

type Field = { kind: 'status' } | { kind: 'time'; unit: number } | { kind: 'other' }

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The regular expression of one field; quoted fields (Tomcat escapes `"` inside them) are matched without backtracking. */
function fieldRegExp(code: string, quoted: boolean): string {
  if (quoted) return '((?:[^"\\\\]|\\\\.)*)'
  if (code === 't') return '(\\[[^\\]]*\\])'
  if (WORD_CODES.has(code)) return '(\\S*)'
  return '(.*?)'
}

/**
 * Builds the parser of a pattern; throws with the reason when the pattern cannot be used (no %s,
 * no time taken, an unknown code). `&quot;` and the other XML entities are accepted as written in
 * server.xml.
 */
export function accessLineParser(patternText: string): AccessLineParser {
  const decoded = patternText.replace(/&(quot|amp|lt|gt|apos);/g, (entity) => ENTITIES[entity] ?? entity).trim()
  const pattern = ALIASES[decoded] ?? decoded
  const fields: Field[] = []
  let regexp = '^'
  const tokens = /%(?:\{([^}]*)\})?([a-zA-Z%])/g
  let last = 0
  for (let match = tokens.exec(pattern); match !== null; match = tokens.exec(pattern)) {
    const [whole, argument, code] = match as unknown as [string, string | undefined, string]
    regexp += escapeRegExp(pattern.slice(last, match.index))
    last = match.index + whole.length
    if (code === '%') {
      regexp += '%'
      continue
    }
    if (argument === undefined && !WORD_CODES.has(code) && code !== 't' && code !== 'r') {
      throw new Error(`unknown code %${code} in the access log pattern`)
    }
    const quoted = pattern[match.index - 1] === '"' && pattern[last] === '"'
    regexp += fieldRegExp(argument === undefined || code === 'T' ? code : '', quoted)
    const unit =
      code === 'D' || code === 'F'
        ? TIME_UNITS[code]
        : code === 'T'
          ? TIME_UNITS[argument === undefined ? 'T' : `${argument}:T`]
          : undefined
    if (code === 'T' && argument !== undefined && unit === undefined)
      throw new Error(`unknown time unit %{${argument}}T in the access log pattern`)
    fields.push(
      code === 's' && argument === undefined ? { kind: 'status' } : unit !== undefined ? { kind: 'time', unit } : { kind: 'other' },
    )
  }
  regexp += `${escapeRegExp(pattern.slice(last))}$`
  const statusAt = fields.findIndex((f) => f.kind === 'status')
  const timeAt = fields.findIndex((f) => f.kind === 'time')
  if (statusAt < 0) throw new Error('the access log pattern has no %s (the HTTP status)')
  if (timeAt < 0) throw new Error('the access log pattern has no time taken (%D, %T, %F or %{ms}T)')
  const timeField = fields[timeAt] as { kind: 'time'; unit: number }
  const compiled = new RegExp(regexp)
  const parse = (line: string): AccessEntry | null => {
    const match = compiled.exec(line)
    if (!match) return null
    const statusText = match[statusAt + 1] ?? ''
    const timeText = match[timeAt + 1] ?? ''
    if (!/^[1-5]\d\d$/.test(statusText) || !/^\d+(\.\d+)?$/.test(timeText)) return null
    return { status: Number(statusText), seconds: Number(timeText) / timeField.unit }
  }
  return Object.assign(parse, { pattern })
}
