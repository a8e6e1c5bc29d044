import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { performance } from 'node:perf_hooks'

export interface GetOptions {
  /** The whole exchange (connect, headers, body) must be over within this time. */
  timeoutMs: number
  headers?: Record<string, string>
  /** Body bytes kept (the rest is discarded); 0 keeps none. */
  maxBody?: number
  signal?: AbortSignal
  /** A keep-alive agent (warm-up); without one, each request has its own connection. */
  agent?: HttpAgent
}

export interface GetAnswer {
  status: number
  body: string
  latencyMs: number
}

/** A failed exchange; the message is short and fit for a status line ("connection refused"). */
export class GetError extends Error {
  override name = 'GetError'
  readonly latencyMs: number

  constructor(message: string, latencyMs: number, options?: { cause?: unknown }) {
    super(message, options)
    this.latencyMs = latencyMs
  }
}

function describeFailure(err: NodeJS.ErrnoException, url: URL): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ECONNRESET':
      return 'connection reset'
    case 'EPIPE':
      return 'connection closed while sending'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${url.hostname} unreachable`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname}`
    default:
      return err.message === 'socket hang up' ? 'connection closed without an answer' : err.message
  }
}

/**
 * One GET with a deadline over the whole exchange, so that a server that accepts the connection
 * and never answers (a stopped or hung JVM) fails after `timeoutMs` like one that refuses it.
 */
export function httpGet(target: string, options: GetOptions): Promise<GetAnswer> {
  const url = new URL(target)
  const started = performance.now()
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10
  const maxBody = options.maxBody ?? 0
  return new Promise<GetAnswer>((resolve, reject) => {
    // Before any request exists: a request destroyed before its 'error' listener is attached
    // emits an error nobody hears, which ends the process.
    if (options.signal?.aborted) {
      reject(new GetError('aborted', elapsed()))
      return
    }
    let settled = false
    const finish = (outcome: { answer: GetAnswer } | { error: GetError }) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if ('answer' in outcome) resolve(outcome.answer)
      else reject(outcome.error)
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', headers: options.headers, agent: options.agent ?? false })
    const timer = setTimeout(() => {
      finish({ error: new GetError(`no answer within ${options.timeoutMs} ms`, elapsed()) })
      req.destroy()
    }, options.timeoutMs)
    const onAbort = () => {
      finish({ error: new GetError('aborted', elapsed()) })
      req.destroy()
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })

    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: new GetError(describeFailure(err, url), elapsed(), { cause: err }) }))
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = []
      let kept = 0
      const done = () =>
        finish({ answer: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), latencyMs: elapsed() } })
      res.on('data', (chunk: Buffer) => {
        if (kept >= maxBody) return
        const part = chunk.subarray(0, maxBody - kept)
        chunks.push(part)
        kept += part.length
      })
      res.on('end', done)
      res.on('error', (err: NodeJS.ErrnoException) => finish({ error: new GetError(describeFailure(err, url), elapsed(), { cause: err }) }))
      res.on('close', () => {
        if (!res.complete) finish({ error: new GetError('answer cut short', elapsed()) })
      })
    })
    req.end()
  })
}
