import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Test } from 'tap'
import type { Teardowns } from './system.js'
import { buildAgent, type Agent } from '../../src/app.js'
import { loadConfig } from '../../src/config/load.js'
import { listenOn } from '../../src/listen.js'
import { httpRequest, type SimpleResponse } from './http.js'

export function tempDir(t: Teardowns, prefix = 'health-agent-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface RunningAgent {
  agent: Agent
  dir: string
  logFile: string
  healthPort: number
  adminPort: number
  /** Port of the agent-check listener; 0 when `agentCheckListen` is not among the flags. */
  agentCheckPort: number
  healthUrl: string
  adminUrl: string
  token: string
  check(method?: string): Promise<SimpleResponse>
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<SimpleResponse>
  logLines(): Array<Record<string, unknown>>
}

/** A real agent in a temp dir, on loopback port 0, closed at teardown. */
export async function startAgent(t: Test, flags: Record<string, string> = {}, dir = tempDir(t)): Promise<RunningAgent> {
  const config = loadConfig({
    env: {},
    cwd: dir,
    flags: { dataDir: dir, listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', statePollMs: '200', ...flags },
  })
  const logFile = join(dir, 'agent.log')
  const logger = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }))
  const agent = buildAgent(config, logger)
  t.teardown(() => agent.close())
  await agent.start()
  const health = await listenOn(agent.health, config.listen)
  const admin = await listenOn(agent.admin, config.adminListen)
  const agentCheckPort = agent.agentCheck ? (await agent.agentCheck.listen(config.agentCheckListen)).port : 0
  const healthPort = health.kind === 'tcp' ? health.port : 0
  const adminPort = admin.kind === 'tcp' ? admin.port : 0
  const healthUrl = `http://127.0.0.1:${healthPort}`
  const adminUrl = `http://127.0.0.1:${adminPort}`
  const token = readFileSync(config.tokenFile, 'utf8').trim()
  return {
    agent,
    dir,
    logFile,
    healthPort,
    adminPort,
    agentCheckPort,
    healthUrl,
    adminUrl,
    token,
    check: (method = 'GET') => httpRequest(`${healthUrl}${config.checkPath}`, { method }),
    admin: (method, path, body, headers = {}) =>
      httpRequest(`${adminUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    logLines: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  }
}
