import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgent } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { waitFor } from '../helpers/wait.js'

t.test(
  'fast timers (inter 100 ms): a real HAProxy 2.6 follows agentctl and the state file: NOLB on drain, DOWN on down, UP on ready',
  async (t) => {
    const running = await startAgent(t)
    const backend = createServer((_, res) => res.end('backend\n'))
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => backend.close(() => resolve())))
    const backendPort = (backend.address() as { port: number }).port

    const haproxy = await startHaproxy(
      t,
      running.dir,
      `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    # The check read timeout; without it, it is inter (100-300 ms here), which a busy machine misses.
    timeout check 2s

backend be
    option httpchk GET /health
    http-check disable-on-404
    server s1 127.0.0.1:${backendPort} check port ${running.healthPort} inter 100 fastinter 100 downinter 100 rise 1 fall 1`,
    )
    const status = async () => (await haproxy.serverStat('be', 's1')).status
    const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }

    await waitFor('HAProxy sees the server UP', async () => (await status()) === 'UP', { timeoutMs: 30_000 })

    const steps: Array<[string, () => Promise<unknown>, string]> = [
      ['agentctl drain', () => agentctl(['drain', '--reason', 'haproxy test'], env), 'NOLB'],
      ['agentctl ready', () => agentctl(['ready'], env), 'UP'],
      ['agentctl down', () => agentctl(['down', '--reason', 'haproxy test'], env), 'DOWN'],
      ['agentctl ready', () => agentctl(['ready'], env), 'UP'],
      ['echo drain > state', async () => writeFileSync(running.agent.core.config.stateFile, 'drain\n'), 'NOLB'],
      ['echo down > state', async () => writeFileSync(running.agent.core.config.stateFile, 'down\n'), 'DOWN'],
      ['echo ready > state', async () => writeFileSync(running.agent.core.config.stateFile, 'ready\n'), 'UP'],
    ]
    for (const [name, act, expected] of steps) {
      const started = Date.now()
      const result = (await act()) as { code?: number; stderr?: string } | undefined
      if (result && 'code' in result) t.equal(result.code, 0, `${name} exits 0 ${result.stderr ?? ''}`)
      const seen = await waitFor(
        `HAProxy status ${expected} after ${name}`,
        async () => ((await status()) === expected ? Date.now() : false),
        { timeoutMs: 30_000 },
      )
      t.comment(`${name}: HAProxy reports ${expected} ${seen - started} ms after the command started`)
      t.pass(`${name} -> ${expected}`)
    }
  },
)
