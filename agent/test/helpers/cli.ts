import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'

export const AGENTCTL_BIN = join(PACKAGE_ROOT, 'dist/bin/agentctl.mjs')
export const AGENT_BIN = join(PACKAGE_ROOT, 'dist/bin/health-agent.mjs')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export function requireBuilt(bin: string): string {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: the CLI tests run the built binaries; run npm run build (npm test does)`)
  return bin
}

/** Runs a built binary to completion with a clean environment plus `env`. */
export function runBin(bin: string, args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliResult> {
  return runProcess(process.execPath, [requireBuilt(bin), ...args], env, timeoutMs)
}

/** Runs one of the deploy scripts (scripts/NAME) to completion, with the built agentctl as its AGENTCTL. */
export function runDeployScript(name: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  const agentctlCmd = `${process.execPath} ${requireBuilt(AGENTCTL_BIN)}`
  return runProcess(join(PACKAGE_ROOT, 'scripts', name), args, { AGENTCTL: agentctlCmd, ...env }, timeoutMs)
}

function runProcess(command: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

export function agentctl(args: string[], env: Record<string, string> = {}, timeoutMs?: number): Promise<CliResult> {
  return runBin(AGENTCTL_BIN, args, env, timeoutMs)
}
