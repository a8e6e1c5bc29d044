import { spawn } from 'node:child_process'
import { Agent as HttpAgent, createServer, request, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import type { LbView } from '../../src/lb/views.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { agentctl, AGENTCTL_BIN, requireBuilt } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { freePort } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

/** HAProxy's check interval in this test (inter, fastinter and downinter). */
const INTER = 200
const SLOW_MS = 3000

/** The Tomcat stand-in: `/slow` answers after 3 s, `/hold` when the test releases it, anything else at once. */
async function startBackend(t: Parameters<typeof startAgent>[0]) {
  const held = new Set<ServerResponse>()
  const slowEnds: Record<string, number> = {}
  let slowInFlight = 0
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/slow')) {
      slowInFlight++
      setTimeout(() => {
        slowInFlight--
        res.end('slow\n')
        slowEnds[req.url ?? ''] = Date.now()
      }, SLOW_MS)
    } else if (req.url === '/hold') {
      held.add(res)
    } else {
      res.end('fast\n')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const release = () => {
    for (const res of held) res.end('released\n')
    held.clear()
  }
  t.teardown(() => {
    release()
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { port: (server.address() as { port: number }).port, held, slowEnds, inFlight: () => slowInFlight, release }
}

interface Timed {
  status: number
  setCookie: string[]
  endAt: number
}

function get(port: number, path: string, options: { agent?: HttpAgent; cookie?: string } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const headers = options.cookie ? { cookie: options.cookie } : undefined
    const req = request({ host: '127.0.0.1', port, path, headers, agent: options.agent ?? false }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [], endAt: Date.now() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Runs the built agentctl and notes when each of its output lines arrived. */
function agentctlTimed(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [requireBuilt(AGENTCTL_BIN), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<{ at: number; text: string }> = []
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    const at = Date.now()
    stdout += c.toString()
    for (const text of c.toString().split('\n').filter(Boolean)) lines.push({ at, text })
  })
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise<{ code: number | null; stdout: string; stderr: string; lines: typeof lines }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, lines })
    })
  })
}

function haproxyConfig(frontendPort: number, backendPort: number, agentPort: number): string {
  return `defaults
    mode http
    timeout connect 1s
    timeout client 20s
    timeout server 20s
    # The check read timeout; without it, it is inter (100-300 ms here), which a busy machine misses.
    timeout check 2s
    timeout http-keep-alive 10s

frontend fe
    bind 127.0.0.1:${frontendPort}
    default_backend be

backend be
    option httpchk GET /health
    http-check disable-on-404
    http-check send-state
    cookie SRV insert indirect nocache
    server s1 127.0.0.1:${backendPort} cookie s1 check port ${agentPort} inter ${INTER} fastinter ${INTER} downinter ${INTER}`
}

function view(running: RunningAgent, node: string): LbView | undefined {
  return running.agent.core.lb.views.list().find((v) => v.node === node)
}

const reports = (running: RunningAgent, node: string, status: string, scur?: number) => () => {
  const v = view(running, node)
  return v?.state?.status === status && v.state.counts === null && (scur === undefined || v.state.scur.server === scur)
}

t.test(
  'fast timers (inter 200 ms, --lb-stale-ms 1500): two HAProxy 2.6 with send-state: drain, sticky sessions, ready, down, and a load balancer gone',
  async (t) => {
    const backend = await startBackend(t)
    // Stale after 1.5 s: 7 check intervals.
    const running = await startAgent(t, { expectLb: 'lb1,lb2', lbStaleMs: '1500' })
    const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
    const [fe1, fe2] = [await freePort(), await freePort()]
    const lb1 = await startHaproxy(t, running.dir, haproxyConfig(fe1, backend.port, running.healthPort), 'lb1', ['node lb1'])
    const lb2 = await startHaproxy(t, running.dir, haproxyConfig(fe2, backend.port, running.healthPort), 'lb2', ['node lb2'])
    await waitFor('both load balancers report the server UP', () => reports(running, 'lb1', 'UP')() && reports(running, 'lb2', 'UP')())

    // A client of lb1 gets its persistence cookie while the server takes traffic.
    const sticky = new HttpAgent({ keepAlive: true, maxSockets: 1 })
    t.teardown(() => sticky.destroy())
    const first = await get(fe1, '/', { agent: sticky })
    const cookie = first.setCookie.map((c) => c.split(';')[0]).find((c) => c?.startsWith('SRV='))
    t.equal(cookie, 'SRV=s1', 'lb1 sets the persistence cookie')

    t.test('a drain is confirmed only once the requests in flight through both load balancers have ended', async (t) => {
      const slow1 = get(fe1, '/slow?via=lb1')
      await waitFor('lb1 reports the request in flight', reports(running, 'lb1', 'UP', 1), { timeoutMs: 2500 })
      const slow2 = get(fe2, '/slow?via=lb2')
      await waitFor('both requests reach the backend', () => backend.inFlight() === 2)
      // The drain begins now, while both are in flight, however long agentctl takes to start on a busy
      // machine; `agentctl drain` then finds it draining (its start time kept) and waits.
      await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'two-lb test' })
      const drain = agentctlTimed(['drain', '--wait', '--timeout', '30', '--reason', 'two-lb test'], env)
      await waitFor(
        'both report NOLB with their request in flight',
        () => reports(running, 'lb1', 'NOLB', 1)() && reports(running, 'lb2', 'NOLB', 1)(),
        {
          timeoutMs: SLOW_MS - 1000,
        },
      )
      t.pass('lb1 and lb2: NOLB, scur=1 while their requests run')

      const [r1, r2] = await Promise.all([slow1, slow2])
      t.equal(r1.status, 200, 'the request through lb1 finished')
      t.equal(r2.status, 200, 'the request through lb2 finished')
      const result = await drain
      t.equal(result.code, 0, `drain --wait exits 0 ${result.stderr}`)
      const confirmedLine = result.lines.find((l) => l.text.startsWith('drained: confirmed'))
      t.ok(confirmedLine, `it says so: ${confirmedLine?.text}`)

      const lastEnd = Math.max(backend.slowEnds['/slow?via=lb1'] ?? Infinity, backend.slowEnds['/slow?via=lb2'] ?? Infinity)
      const lb1End = backend.slowEnds['/slow?via=lb1'] ?? 0
      const logged = running.logLines().find((l) => /^drain confirmed by 2 load balancer/.test(String(l.msg)))
      const confirmedAt = Number(logged?.time)
      t.ok(confirmedAt > lastEnd, `the agent confirmed the drain only after the last request ended (${lastEnd - lb1End} ms after lb1's)`)
      const delay = confirmedAt - lastEnd
      t.comment(`agent: drain confirmed ${delay} ms after the backend finished the last request in flight (inter ${INTER} ms)`)
      t.ok(delay < INTER + 400, `within one check interval and some scheduling (${delay} ms, inter ${INTER} ms)`)

      // agentctl's own delay means something only if its wait had begun before the requests ended.
      const firstProgress = result.lines.find((l) => l.text.startsWith('[0.'))
      const cliDelay = (confirmedLine?.at ?? 0) - lastEnd
      if (firstProgress && firstProgress.at < lastEnd) {
        t.comment(
          `agentctl drain --wait printed its confirmation ${cliDelay} ms after the last request ended (${(confirmedLine?.at ?? 0) - confirmedAt} ms after the agent confirmed)`,
        )
        t.ok(cliDelay < INTER + 600, `agentctl returns right after (${cliDelay} ms)`)
      } else {
        t.comment(
          `agentctl started waiting only after the requests had ended (busy machine); it confirmed ${cliDelay} ms after the last one ended`,
        )
      }
    })

    t.test('a sticky client keeps a session open on lb1: --timeout exits 1, --force-after goes on', async (t) => {
      t.equal((await get(fe1, '/')).status, 503, 'a new client gets no server: the drained one takes no new sessions')
      const hold = get(fe1, '/hold', { agent: sticky, cookie })
      await waitFor('the persistent client reaches the drained server', () => backend.held.size === 1)
      await waitFor('lb1 reports its session', reports(running, 'lb1', 'NOLB', 1), { timeoutMs: 3000 })
      t.equal((await lb1.serverStat('be', 's1')).scur, '1', 'HAProxy shows the same scur')

      const timedOut = await agentctl(['drain', '--wait', '--timeout', '1.5'], env)
      t.equal(timedOut.code, 1, 'the wait times out: exit 1')
      t.match(timedOut.stderr, /drained not confirmed within 1\.\ds; the server stays drained: lb1 be\/s1: NOLB with 1 session in flight/)
      t.equal(running.agent.core.store.current?.state, 'drain', 'the server stays drained')

      const forced = await agentctl(['drain', '--wait', '--force-after', '1'], env)
      t.equal(forced.code, 0, '--force-after goes on: exit 0')
      t.match(
        forced.stderr,
        /WARNING: drained NOT confirmed after 1\.\ds; going on anyway because of --force-after: lb1 be\/s1: NOLB with 1 session in flight/,
      )

      backend.release()
      t.equal((await hold).status, 200, 'the sticky request finishes on the drained server')
      const after = await agentctl(['drain', '--wait', '--timeout', '10'], env)
      t.equal(after.code, 0, `once it has ended, the drain is confirmed ${after.stderr}`)
    })

    t.test('ready --wait returns once both report UP; down --wait once neither sends traffic', async (t) => {
      const steps: Array<[string, string[]]> = [
        ['UP', ['ready', '--wait', '--timeout', '20']],
        ['DOWN', ['down', '--wait', '--timeout', '20']],
        ['UP', ['ready', '--wait', '--timeout', '20']],
      ]
      for (const [expected, args] of steps) {
        const result = await agentctl(args, env)
        t.equal(result.code, 0, `${args.join(' ')} exits 0 ${result.stderr}`)
        const shown = [(await lb1.serverStat('be', 's1')).status, (await lb2.serverStat('be', 's1')).status]
        t.same(shown, [expected, expected], `${args[0]} --wait: when it returns, both HAProxy show ${expected}`)
      }
    })

    t.test('a stopped load balancer goes stale and, expected, blocks the drain', async (t) => {
      await lb2.stop()
      await waitFor(
        'lb2 goes stale',
        () => running.agent.core.status().loadBalancers.confirmation?.loadBalancers.find((l) => l.lb === 'lb2')?.stale,
        { timeoutMs: 5000 },
      )
      const blocked = await agentctl(['drain', '--wait', '--timeout', '2'], env)
      t.equal(blocked.code, 1, 'not confirmed: exit 1')
      t.match(blocked.stderr, /lb2 be\/s1: no check for \d+\.\ds/)
      t.notMatch(blocked.stderr, /lb1 be\/s1/, 'lb1 itself confirms')
      const status = await agentctl(['status'], env)
      t.match(status.stdout, /lb2 be\/s1 +UP +scur=0 qcur=0 +checked \d+\.\ds ago {2}waiting: no check for/)

      const metrics = await running.agent.core.metrics.registry.metrics()
      t.match(metrics, /health_agent_drain_duration_seconds_count 1\n/, 'one drain timed from start to confirmation')
      t.match(metrics, /health_agent_waits_total\{goal="drained",outcome="timeout"\} 2/)
      t.match(metrics, /health_agent_waits_total\{goal="drained",outcome="forced"\} 1/)
      const age = Number(/health_agent_lb_last_check_age_seconds\{lb="lb2",server="be\/s1"\} ([\d.]+)/.exec(metrics)?.[1])
      t.ok(age >= 2, `the stopped load balancer's last check is old (${age} s)`)
    })
  },
)
