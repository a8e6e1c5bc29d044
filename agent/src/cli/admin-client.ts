import { request } from 'node:http'
import { parseListenAddress } from '../config/listen-address.js'

export type AgentEndpoint = { socketPath: string } | { host: string; port: number; base: string }

export class ClientError extends Error {
  readonly kind: 'unreachable' | 'refused' | 'failed'
  readonly status: number | null
  constructor(kind: ClientError['kind'], message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(message, options)
    this.kind = kind
    this.status = status
  }
}

/** `http://host:port`, `unix:/path` or an admin listen address (`0.0.0.0:9991` means this host). */
export function parseAgentUrl(value: string): AgentEndpoint | null {
  if (value.startsWith('unix:')) {
    const socketPath = value.slice('unix:'.length)
    return socketPath ? { socketPath } : null
  }
  if (/^https?:\/\//.test(value)) {
    try {
      const url = new URL(value)
      if (url.protocol !== 'http:') return null
      const host = url.hostname.replace(/^\[|\]$/g, '')
      return { host, port: Number(url.port || 80), base: url.pathname.replace(/\/$/, '') }
    } catch {
      return null
    }
  }
  const address = parseListenAddress(value)
  if (!address) return null
  if (address.kind === 'unix') return { socketPath: address.path }
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host
  return { host, port: address.port, base: '' }
}

export function describeEndpoint(endpoint: AgentEndpoint): string {
  if ('socketPath' in endpoint) return `unix:${endpoint.socketPath}`
  return `http://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}${endpoint.base}`
}

/** One JSON call to the admin API; errors are sorted into unreachable, refused (4xx) and failed. */
export function callAgent<T>(
  endpoint: AgentEndpoint,
  token: string,
  method: 'GET' | 'PUT' | 'DELETE',
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const target =
    'socketPath' in endpoint
      ? { socketPath: endpoint.socketPath, path }
      : { host: endpoint.host, port: endpoint.port, path: endpoint.base + path }
  return new Promise<T>((resolve, reject) => {
    const req = request(
      {
        ...target,
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', (err) =>
          reject(new ClientError('unreachable', `connection to ${describeEndpoint(endpoint)} broke: ${err.message}`, null, { cause: err })),
        )
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            reject(
              new ClientError(
                'failed',
                `${describeEndpoint(endpoint)} answered HTTP ${res.statusCode} with a body that is not JSON: ${text.slice(0, 120)}`,
                res.statusCode ?? null,
              ),
            )
            return
          }
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) resolve(json as T)
          else {
            const message = (json as { message?: string }).message ?? text
            reject(new ClientError(status >= 400 && status < 500 ? 'refused' : 'failed', `agent answered ${status}: ${message}`, status))
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? ' (is the agent running? see --agent)' : ''
      reject(
        new ClientError('unreachable', `cannot reach the agent at ${describeEndpoint(endpoint)}: ${err.code ?? err.message}${hint}`, null, {
          cause: err,
        }),
      )
    })
    req.end(payload)
  })
}

/**
 * A GET whose answer is newline-delimited JSON (`/v1/wait`): each line is handed to `onLine` as it
 * arrives; resolves when the agent ends the answer. `idleTimeoutMs` bounds the silence between lines.
 */
export function streamAgent(
  endpoint: AgentEndpoint,
  token: string,
  path: string,
  onLine: (value: unknown) => void,
  idleTimeoutMs: number,
): Promise<void> {
  const target =
    'socketPath' in endpoint
      ? { socketPath: endpoint.socketPath, path }
      : { host: endpoint.host, port: endpoint.port, path: endpoint.base + path }
  return new Promise<void>((resolve, reject) => {
    const req = request(
      { ...target, method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' }, timeout: idleTimeoutMs },
      (res) => {
        const status = res.statusCode ?? 0
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buffer += chunk
          if (status < 200 || status >= 300) return
          let nl: number
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim()
            buffer = buffer.slice(nl + 1)
            if (!line) continue
            let value: unknown
            try {
              value = JSON.parse(line)
            } catch {
              req.destroy()
              reject(new ClientError('failed', `${describeEndpoint(endpoint)} sent a line that is not JSON: ${line.slice(0, 120)}`, status))
              return
            }
            onLine(value)
          }
        })
        res.on('error', (err) =>
          reject(new ClientError('unreachable', `connection to ${describeEndpoint(endpoint)} broke: ${err.message}`, null, { cause: err })),
        )
        res.on('end', () => {
          if (status >= 200 && status < 300) return resolve()
          let message = buffer
          try {
            message = (JSON.parse(buffer) as { message?: string }).message ?? buffer
          } catch {
            // not JSON: keep the text
          }
          reject(new ClientError(status >= 400 && status < 500 ? 'refused' : 'failed', `agent answered ${status}: ${message}`, status))
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`nothing from the agent for ${idleTimeoutMs} ms`)))
    req.on('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? ' (is the agent running? see --agent)' : ''
      reject(
        new ClientError('unreachable', `cannot reach the agent at ${describeEndpoint(endpoint)}: ${err.code ?? err.message}${hint}`, null, {
          cause: err,
        }),
      )
    })
    req.end()
  })
}
