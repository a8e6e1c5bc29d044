import { HOLD_HEADER } from '../lb/hold.js'

/** What answering a check needs from its request, read straight from the bytes a load balancer sent. */
export interface CheckRequest {
  readonly method: 'GET' | 'HEAD' | 'OPTIONS'
  /** `X-Haproxy-Server-State`, as node:http would give it (latin1, spaces around it trimmed). */
  readonly serverState: string | undefined
  /** `X-Health-Hold`, likewise. */
  readonly hold: string | undefined
}

/** A check's head is a few hundred bytes; anything near node:http's own limit (16 KiB) is its to judge. */
export const MAX_DIRECT_HEAD_BYTES = 8192

const CR = 0x0d
const LF = 0x0a
const COLON = 0x3a
const SPACE = 0x20
const TAB = 0x09

/** Bytes by what they may be in a head: a token character (header names), a field value byte, neither. */
const TOKEN_BYTE = 1
const VALUE_BYTE = 2
const BYTE_KINDS = (() => {
  const kinds = new Uint8Array(256)
  for (let byte = 0x20; byte <= 0xff; byte++) if (byte !== 0x7f) kinds[byte] = VALUE_BYTE
  kinds[TAB] = VALUE_BYTE
  for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
    const byte = char.charCodeAt(0)
    kinds[byte] = (kinds[byte] ?? 0) | TOKEN_BYTE
  }
  return kinds
})()

const METHODS = ['GET', 'HEAD', 'OPTIONS'] as const
const VERSIONS = ['HTTP/1.0', 'HTTP/1.1'] as const
/** Headers that mean a body, a protocol switch or an interim response: node:http's to handle. */
const NOT_A_PLAIN_CHECK = ['content-length', 'transfer-encoding', 'expect', 'upgrade']

/** Whether `chunk[start, end)` is `lowercase`, ignoring ASCII case (`lowercase` is lower-case ASCII). */
function equalsIgnoringCase(chunk: Buffer, start: number, end: number, lowercase: string): boolean {
  if (end - start !== lowercase.length) return false
  for (let i = 0; i < lowercase.length; i++) {
    const byte = chunk[start + i] as number
    const lower = byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte
    if (lower !== lowercase.charCodeAt(i)) return false
  }
  return true
}

function equalsExactly(chunk: Buffer, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false
  for (let i = 0; i < text.length; i++) if (chunk[start + i] !== text.charCodeAt(i)) return false
  return true
}

/**
 * The check in `chunk`, the first bytes read from a new connection, if the chunk is exactly one
 * complete request that node:http would answer on the check path and then close: GET, HEAD or
 * OPTIONS on the check path, HTTP/1.0 (without keep-alive) or HTTP/1.1 with `Connection: close`
 * and a Host, well-formed header lines, no body, nothing after the head. What HAProxy sends is
 * that. Anything else, even if valid, is null: node:http reads it (keep-alive, a request split
 * over several reads, pipelining, bodies, odd spacing, oversized heads and every other route).
 * It reads bytes in place: only the two values it returns become strings.
 */
export function readCheckRequest(chunk: Buffer, checkPath: string): CheckRequest | null {
  const length = chunk.length
  if (length > MAX_DIRECT_HEAD_BYTES || length < 4) return null
  if (chunk[length - 4] !== CR || chunk[length - 3] !== LF || chunk[length - 2] !== CR || chunk[length - 1] !== LF) return null

  // The request line: method, target and version, one space apart.
  const firstSpace = chunk.indexOf(SPACE)
  const method = METHODS.find((m) => equalsExactly(chunk, 0, firstSpace, m))
  if (firstSpace < 0 || method === undefined) return null
  const targetStart = firstSpace + 1
  let targetEnd = targetStart
  while (targetEnd < length && (chunk[targetEnd] as number) > SPACE && (chunk[targetEnd] as number) < 0x7f) targetEnd++
  if (chunk[targetEnd] !== SPACE) return null
  const pathEnd = targetStart + checkPath.length
  if (!equalsExactly(chunk, targetStart, Math.min(pathEnd, targetEnd), checkPath)) return null
  if (targetEnd !== pathEnd && chunk[pathEnd] !== 0x3f /* ? */) return null
  const lineEnd = chunk.indexOf(CR, targetEnd)
  const version = VERSIONS.find((v) => equalsExactly(chunk, targetEnd + 1, lineEnd, v))
  if (version === undefined || chunk[lineEnd + 1] !== LF) return null

  let serverState: string | undefined
  let hold: string | undefined
  let close = version === 'HTTP/1.0'
  let host = false
  // Each header line up to the blank line that ends the head.
  for (let start = lineEnd + 2; start < length - 2;) {
    let colon = start
    while (colon < length && (BYTE_KINDS[chunk[colon] as number] as number) & TOKEN_BYTE) colon++
    if (colon === start || chunk[colon] !== COLON) return null
    let end = colon + 1
    while (end < length && (BYTE_KINDS[chunk[end] as number] as number) & VALUE_BYTE) end++
    if (chunk[end] !== CR || chunk[end + 1] !== LF) return null
    let valueStart = colon + 1
    let valueEnd = end
    while (valueStart < valueEnd && (chunk[valueStart] === SPACE || chunk[valueStart] === TAB)) valueStart++
    while (valueEnd > valueStart && (chunk[valueEnd - 1] === SPACE || chunk[valueEnd - 1] === TAB)) valueEnd--
    if (equalsIgnoringCase(chunk, start, colon, 'x-haproxy-server-state')) {
      if (serverState !== undefined) return null
      serverState = chunk.toString('latin1', valueStart, valueEnd)
    } else if (equalsIgnoringCase(chunk, start, colon, HOLD_HEADER)) {
      if (hold !== undefined) return null
      hold = chunk.toString('latin1', valueStart, valueEnd)
    } else if (equalsIgnoringCase(chunk, start, colon, 'connection')) {
      if (!equalsIgnoringCase(chunk, valueStart, valueEnd, 'close')) return null
      close = true
    } else if (equalsIgnoringCase(chunk, start, colon, 'host')) {
      if (host) return null
      host = true
    } else if (NOT_A_PLAIN_CHECK.some((name) => equalsIgnoringCase(chunk, start, colon, name))) return null
    start = end + 2
  }
  if (!close) return null
  if (version === 'HTTP/1.1' && !host) return null
  return { method, serverState, hold }
}
