import { STATUS_CODES } from 'node:http'
import type { Verdict } from '../state/effective.js'
import type { CheckRequest } from './check-request.js'

function checkBody(verdict: Verdict): string {
  return verdict.why ? `${verdict.state}: ${verdict.why}\n` : `${verdict.state}\n`
}

/** The answer to every check while one verdict holds, for node:http and as the start of a raw response. */
export interface PreparedAnswer {
  readonly verdict: Verdict
  readonly body: string
  readonly headers: Readonly<Record<string, string | number>>
  /** The status line and the headers above, as node:http writes them. */
  readonly rawHead: string
}

/** `shown`: the verdict as the body tells it (lb/public-status.ts: without error texts unless --page-detail full). */
export function prepareAnswer(verdict: Verdict, shown: Verdict = verdict): PreparedAnswer {
  const body = checkBody(shown)
  const headers = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-health-state': verdict.state,
  }
  const statusLine = `HTTP/1.1 ${verdict.httpStatus} ${STATUS_CODES[verdict.httpStatus] ?? ''}\r\n`
  const rawHead =
    statusLine +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')
  return { verdict, body, headers, rawHead }
}

/**
 * The bytes of a direct answer, the same node:http would send to a request that asked to close,
 * kept as buffers for the verdict and the second (the Date header) they were made for.
 */
export function directAnswers(): (answer: PreparedAnswer, method: CheckRequest['method']) => Buffer {
  let madeFor: PreparedAnswer | null = null
  let second = -1
  let full = Buffer.alloc(0)
  let headOnly = full
  return (answer, method) => {
    const now = Math.floor(Date.now() / 1000)
    if (answer !== madeFor || now !== second) {
      madeFor = answer
      second = now
      headOnly = Buffer.from(`${answer.rawHead}Date: ${new Date(now * 1000).toUTCString()}\r\nConnection: close\r\n\r\n`, 'latin1')
      full = Buffer.concat([headOnly, Buffer.from(answer.body)])
    }
    // Like node:http, no body for HEAD, with the length it would have had.
    return method === 'HEAD' ? headOnly : full
  }
}
