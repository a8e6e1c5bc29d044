import { connect } from 'node:net'
import { request } from 'node:http'

export interface SimpleResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One HTTP request through node:http without keep-alive. */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Sends raw bytes (a string as UTF-8) on a new TCP connection and returns everything read until the server closes it. */
export function rawExchange(port: number, text: string | Buffer, host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no close from ${host}:${port} within ${timeoutMs} ms; read so far: ${Buffer.concat(chunks).toString()}`))
    }, timeoutMs)
    socket.on('connect', () => socket.write(text))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
  })
}

export function statusLine(raw: string): string {
  return raw.split('\r\n')[0] ?? ''
}

export interface LineStream {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** Lines parsed so far. */
  lines: unknown[]
  /** Resolves with every line once the server ends the response. */
  ended: Promise<unknown[]>
  close(): void
}

/** A GET whose answer is newline-delimited JSON, read line by line as it arrives. */
export function streamJsonLines(url: string, headers: Record<string, string> = {}): Promise<LineStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const lines: unknown[] = []
      let buffer = ''
      res.setEncoding('utf8')
      const ended = new Promise<unknown[]>((done, fail) => {
        res.on('data', (chunk: string) => {
          buffer += chunk
          let nl: number
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            if (line.trim()) lines.push(JSON.parse(line))
          }
        })
        res.on('end', () => done(buffer.trim() ? [...lines, JSON.parse(buffer)] : lines))
        res.on('error', fail)
      })
      ended.catch(() => undefined)
      resolve({ status: res.statusCode ?? 0, headers: res.headers, lines, ended, close: () => req.destroy() })
    })
    req.on('error', reject)
    req.end()
  })
}
