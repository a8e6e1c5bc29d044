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

/** Sends raw bytes on a new TCP connection and returns everything read until the server closes it. */
export function rawExchange(port: number, text: string, host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
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
