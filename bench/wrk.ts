import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { BenchContext } from './lib.js'

export interface WrkResult {
  /** Requests completed in the run. */
  requests: number
  rps: number
  p50_ms: number
  p99_ms: number
  errors: number
}

function toMs(value: string, unit: string): number {
  const n = Number(value)
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n
}

export function parseWrk(output: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN)
  const latency = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output)
    return m ? toMs(m[1] as string, m[2] as string) : NaN
  }
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0)
  const errors = (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk output:\n${output}`)
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN)
  return { requests, rps, p50_ms: latency('50'), p99_ms: latency('99'), errors }
}

/**
 * Runs wrk against a URL. `http10` sends HAProxy's exact check request (HTTP/1.0, no Host) on a new
 * connection each time, through a Lua script, since wrk itself always speaks HTTP/1.1 keep-alive.
 */
export async function runWrk(
  ctx: BenchContext,
  url: string,
  { seconds, connections, http10 }: { seconds: number; connections: number; http10: boolean },
): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency']
  if (http10) {
    const script = join(ctx.tmp, 'http10.lua')
    const path = new URL(url).pathname
    writeFileSync(script, `request = function() return "GET ${path} HTTP/1.0\\r\\n\\r\\n" end\n`)
    args.push('-s', script)
  }
  args.push(url)
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))))
  })
  return parseWrk(output)
}
