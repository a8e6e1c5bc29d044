import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import t from 'tap'
import { AGENTCTL_BIN } from '../helpers/cli.js'
import type { AgentStatus } from '../../src/protocol/status.js'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { startHttpServer } from '../helpers/http-server.js'
import { sessionsText, statusXml } from '../helpers/manager-fixtures.js'
import { waitFor } from '../helpers/wait.js'

const run = promisify(execFile)

/** A stand-in Tomcat whose answers the test switches: ok, an HTTP error, or hung. */
async function fakeTomcat(t: Parameters<typeof startHttpServer>[0]) {
  const control = { health: 'ok' as 'ok' | 'error' | 'hang', broken: true, gate: null as Promise<void> | null }
  const server = await startHttpServer(t, async (req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (path === '/app/health') {
      if (control.health === 'hang') return // accepts, never answers
      res.statusCode = control.health === 'ok' ? 200 : 500
      return res.end(control.health === 'ok' ? 'UP\n' : 'boom\n')
    }
    if (path === '/app/slow.jsp' && control.gate) await control.gate
    if (path === '/app/broken.jsp' && control.broken) {
      res.statusCode = 500
      return res.end()
    }
    res.end('page\n')
  })
  return { server, control, probes: () => server.requests.filter((r) => r.url === '/app/health').length }
}

const fast = { tomcatIntervalMs: '50', tomcatTimeoutMs: '500', tomcatFall: '2', tomcatRise: '2' }

async function status(agent: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await agent.admin('GET', '/v1/status')).body) as AgentStatus
}

const answers = (agent: RunningAgent, code: number) => async () => (await agent.check()).status === code

async function metricsText(agent: RunningAgent): Promise<string> {
  return (await fetch(`${agent.healthUrl}/metrics`)).text()
}

t.test('without --tomcat-url the admin state alone decides, and the log says so', async (t) => {
  const agent = await startAgent(t)
  t.equal((await agent.check()).status, 200)
  const s = await status(agent)
  t.same(s.tomcat, { probe: null, warmup: null, manager: null })
  t.ok(
    agent.logLines().some((l) => /^tomcat probe: none \(no --tomcat-url\)/.test(String(l.msg))),
    'a log line at start',
  )
})

t.test('fast timers (50 ms probe, fall 2): startup policy down: 500 until the probe passes rise times', async (t) => {
  const tomcat = await fakeTomcat(t)
  tomcat.control.health = 'error'
  const agent = await startAgent(t, { ...fast, tomcatUrl: tomcat.server.url('/app/health') })
  const first = await agent.check()
  t.equal(first.status, 500, 'a fresh agent answers down before it knows')
  t.match(first.body, /^down: (waiting for the first passing tomcat probe|tomcat probe failing)/)
  await waitFor('the probe to count as down', async () => (await status(agent)).tomcat.probe?.liveness === 'down')
  // The check's body is public: it names the cause; the details are on the admin API.
  t.match((await agent.check()).body, /^down: tomcat probe failing \(details on the admin API\)\n$/)
  t.match((await status(agent)).effective.why, /^tomcat probe failing for [\d.]+ s \(\d+ in a row\): HTTP 500 \(expected 2xx,3xx\)$/)
  t.ok(
    agent
      .logLines()
      .some(
        (l) =>
          l.msg ===
          'tomcat probe: GET ' +
            tomcat.server.url('/app/health') +
            ' every 50 ms (timeout 500 ms, fall 2, rise 2); answering down until it passes',
      ),
  )

  tomcat.control.health = 'ok'
  await waitFor('200 once the probe passes', answers(agent, 200))
  t.match((await status(agent)).tomcat.probe, { liveness: 'up', last: { ok: true, status: 200, error: null } })
  t.ok((await status(agent)).tomcat.probe!.passes >= 2, 'after rise passes')
})

t.test(
  'fast timers (50 ms probe, fall 2): fall failures take any admin state to 500; rise passes give the admin state back, never more',
  async (t) => {
    const tomcat = await fakeTomcat(t)
    const agent = await startAgent(t, { ...fast, tomcatUrl: tomcat.server.url('/app/health') })
    await waitFor('ready', answers(agent, 200))
    await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'test' })
    t.equal((await agent.check()).status, 404)

    tomcat.control.health = 'error'
    await waitFor('500 once Tomcat fails', answers(agent, 500), { timeoutMs: 5000 })
    const down = await status(agent)
    t.match(down, { admin: { state: 'drain' }, effective: { state: 'down', cause: 'tomcat-down', why: /^tomcat probe failing for/ } })
    t.ok(down.tomcat.probe!.failures >= 2, 'after fall failures in a row')

    tomcat.control.health = 'ok'
    const seen = new Set<number>()
    await waitFor('drain (404) again', async () => {
      const code = (await agent.check()).status
      seen.add(code)
      return code === 404
    })
    t.notOk(seen.has(200), 'a drained server is never answered ready by Tomcat coming back')

    const metrics = await metricsText(agent)
    t.match(metrics, /health_agent_state_transitions_total\{kind="effective",source="tomcat-down",to="down"\} 1/)
    t.match(metrics, /health_agent_state_transitions_total\{kind="effective",source="probe",to="drain"\} 1/)
    t.match(metrics, /health_agent_tomcat_probes_total\{result="fail"\} [1-9]/)
    t.match(metrics, /health_agent_tomcat_probe_duration_seconds_bucket\{le="0.5",result="pass"\} [1-9]/)
    t.match(metrics, /health_agent_tomcat_liveness\{state="up"\} 1/)
    t.match(metrics, /health_agent_tomcat_probe_up 1/)
  },
)

t.test(
  'fast timers (50 ms probe, fall 2): a hung Tomcat is down after the timeout, while the health check keeps answering at once',
  async (t) => {
    const tomcat = await fakeTomcat(t)
    const timeoutMs = 1000
    const agent = await startAgent(t, { ...fast, tomcatTimeoutMs: String(timeoutMs), tomcatUrl: tomcat.server.url('/app/health') })
    await waitFor('ready', answers(agent, 200))
    tomcat.control.health = 'hang'
    const hungAt = tomcat.probes()
    const latencies: number[] = []
    let answeredDuringHungProbe = 0
    await waitFor(
      '500 once the hung probes time out',
      async () => {
        const started = performance.now()
        const { status: code } = await agent.check()
        latencies.push(performance.now() - started)
        if (tomcat.probes() > hungAt) answeredDuringHungProbe++
        return code === 500
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    )
    t.match((await status(agent)).effective.why, /^tomcat probe failing for [\d.]+ s \(2 in a row\): no answer within 1000 ms$/)
    t.ok(answeredDuringHungProbe >= 5, `checks answered while a probe hung: ${answeredDuringHungProbe}`)
    const slowest = Math.max(...latencies)
    t.ok(slowest < timeoutMs / 2, `every check well under the probe timeout (slowest ${slowest.toFixed(1)} ms of ${latencies.length})`)
  },
)

t.test(
  'fast timers (50 ms probe, fall 2): the warm-up gate: 500 while warming up, then the admin state; progress in status and agentctl',
  async (t) => {
    const tomcat = await fakeTomcat(t)
    let release = () => undefined as void
    tomcat.control.gate = new Promise<void>((resolve) => (release = resolve))
    const agent = await startAgent(t, {
      ...fast,
      tomcatUrl: tomcat.server.url('/app/health'),
      warmupUrls: '/app/,/app/slow.jsp',
      warmupRequests: '2',
      warmupConcurrency: '1',
    })
    await waitFor('the warm-up to be under way', async () => (await status(agent)).tomcat.warmup?.phase === 'running')
    await waitFor('the gate to be reached', () => tomcat.server.requests.some((r) => r.url === '/app/slow.jsp'))
    const during = await status(agent)
    t.match(during.effective, { state: 'down', cause: 'warmup', why: /^warming tomcat up: 1 of 4 requests done, 0 failed$/ })
    t.equal((await agent.check()).status, 500)

    if (existsSync(AGENTCTL_BIN)) {
      const { stdout } = await run(
        process.execPath,
        [AGENTCTL_BIN, 'status', '--agent', agent.adminUrl, '--token-file', agent.agent.core.config.tokenFile],
        {
          // tap's TypeScript loader is for the tests, not for the built CLI.
          env: { ...process.env, NODE_OPTIONS: '' },
        },
      )
      t.match(stdout, /^effective {3}down \(HTTP 500\) {2}because warming tomcat up: 1 of 4 requests done, 0 failed$/m)
      t.match(stdout, /^tomcat {6}up since \S+ \(\d+ passed in a row\); last probe passed at \S+ \(HTTP 200 in [\d.]+ ms\)$/m)
      t.match(
        stdout,
        /^probe {7}GET http:\/\/127\.0\.0\.1:\d+\/app\/health every 50 ms \(50 ms while drain\/down or returning(: now)?\), timeout 500 ms, fall 2, rise 2, startup policy down$/m,
      )
      t.match(stdout, /^warm-up {5}running for [\d.]+ s: 1 of 4 requests, 0 failed$/m)
    } else {
      t.fail(`${AGENTCTL_BIN} is missing: run npm run build (npm test does) to test agentctl`)
    }

    release()
    await waitFor('200 after the warm-up', answers(agent, 200))
    const after = await status(agent)
    t.match(after.tomcat.warmup, { phase: 'passed', done: 4, failed: 0, total: 4, startedAt: String, finishedAt: String })
    t.same(
      after.tomcat.warmup?.perUrl.map((u) => [u.url.replace(/^http:\/\/127\.0\.0\.1:\d+/, ''), u.requests]),
      [
        ['/app/', 2],
        ['/app/slow.jsp', 2],
      ],
    )
    t.match(await metricsText(agent), /health_agent_tomcat_warmup_duration_seconds_count\{outcome="passed"\} 1/)
    t.match(await metricsText(agent), /health_agent_tomcat_warmup_requests_total\{result="pass"\} 4/)
    const warmups = tomcat.server.requests.filter((r) => r.url !== '/app/health')
    t.ok(warmups.every((r) => /\(warm-up\)$/.test(String(r.headers['user-agent']))))
  },
)

t.test('fast timers (50 ms probe, fall 2): too many warm-up failures with on-failure down: stay 500, say why, try again', async (t) => {
  const tomcat = await fakeTomcat(t)
  const agent = await startAgent(t, { ...fast, tomcatUrl: tomcat.server.url('/app/health'), warmupUrls: '/app/broken.jsp' })
  await waitFor('the warm-up to fail', async () => (await status(agent)).tomcat.warmup?.phase === 'failed')
  const failed = await status(agent)
  t.match(failed.effective, {
    state: 'down',
    cause: 'warmup',
    why: /^tomcat warm-up failed: 1 of 1 requests failed \(at most 0 allowed\), last: GET http:\S+\/app\/broken\.jsp: HTTP 500 \(expected 2xx,3xx\); trying again in/,
  })
  t.match(failed.tomcat.warmup, { retryAt: String, lastError: /HTTP 500/ })
  t.ok(
    agent.logLines().some((l) => /^tomcat warm-up request failed: GET \S+broken\.jsp: HTTP 500/.test(String(l.msg))),
    'each failure is logged',
  )

  tomcat.control.broken = false
  await waitFor('200 once a retry passes', answers(agent, 200), { timeoutMs: 10_000 })
  t.equal((await status(agent)).tomcat.warmup?.phase, 'passed')
})

t.test(
  'fast timers (50 ms probe, fall 2): a warm-up that cannot reach Tomcat stays 500 whatever the failure limit, and starts over',
  async (t) => {
    const tomcat = await fakeTomcat(t)
    const { closedPort } = await import('../helpers/http-server.js')
    const dead = `http://127.0.0.1:${await closedPort()}/app/`
    const agent = await startAgent(t, {
      ...fast,
      tomcatUrl: tomcat.server.url('/app/health'),
      warmupUrls: dead,
      warmupMaxFailures: '5',
      warmupOnFailure: 'ready',
    })
    // One snapshot: the warm-up starts over every probe interval (50 ms here), so the phase moves on.
    const stopped = await waitFor('the warm-up to stop', async () => {
      const s = await status(agent)
      return s.tomcat.warmup?.phase === 'failed' && s
    })
    t.match(stopped.tomcat.warmup, { failed: 1, lastError: /connection refused/, retryAt: String })
    t.match(stopped.effective, { state: 'down', cause: 'warmup' })
    const answers: number[] = []
    for (let i = 0; i < 20; i++) answers.push((await agent.check()).status)
    t.same(new Set(answers), new Set([500]), 'never ready: the failure limit does not cover a Tomcat that is not there')
    // Tried again every probe interval (50 ms here): one or more by now.
    t.match(await metricsText(agent), /health_agent_tomcat_warmup_duration_seconds_count\{outcome="unreachable"\} [1-9]\d*\n/)
    t.ok(agent.logLines().some((l) => /^tomcat warm-up stopped: Tomcat could not be reached/.test(String(l.msg))))
  },
)

t.test('fast timers (50 ms probe, fall 2): too many warm-up failures with on-failure ready: answer anyway, and show it', async (t) => {
  const tomcat = await fakeTomcat(t)
  const agent = await startAgent(t, {
    ...fast,
    tomcatUrl: tomcat.server.url('/app/health'),
    warmupUrls: '/app/broken.jsp,/app/',
    warmupOnFailure: 'ready',
  })
  await waitFor('200 despite the failure', answers(agent, 200))
  t.match((await status(agent)).tomcat.warmup, { phase: 'ready-anyway', failed: 1, done: 2 })
  t.ok(agent.logLines().some((l) => l.level === 40 && /answering the admin state anyway/.test(String(l.msg))))
})

t.test(
  'fast timers (50 ms probe, fall 2): startup policy admin: the admin state before the first result, and no warm-up for a Tomcat already up',
  async (t) => {
    const hung = await fakeTomcat(t)
    hung.control.health = 'hang'
    const trusting = await startAgent(t, {
      ...fast,
      tomcatTimeoutMs: '60000',
      tomcatStartupPolicy: 'admin',
      tomcatUrl: hung.server.url('/app/health'),
    })
    await waitFor('the first probe to be sent', () => hung.probes() > 0)
    t.equal((await trusting.check()).status, 200, 'answers ready while the first probe is still out')
    t.equal((await status(trusting)).tomcat.probe?.liveness, 'unknown')

    const up = await fakeTomcat(t)
    const agent = await startAgent(t, {
      ...fast,
      tomcatStartupPolicy: 'admin',
      tomcatUrl: up.server.url('/app/health'),
      warmupUrls: '/app/',
    })
    await waitFor('the probe to see Tomcat up', async () => (await status(agent)).tomcat.probe?.liveness === 'up')
    t.equal((await status(agent)).tomcat.warmup?.phase, 'skipped')
    t.equal(up.server.requests.filter((r) => r.url === '/app/').length, 0, 'no warm-up request')
  },
)

t.test(
  'fast timers (50 ms probe, fall 2): manager signals are polled while draining, shown, and the credentials never appear',
  async (t) => {
    const dir = tempDir(t)
    const secret = 'pa55-Zq9-never-logged'
    const credentialsFile = join(dir, 'manager-credentials')
    writeFileSync(credentialsFile, `agent:${secret}\n`, { mode: 0o600 })
    const tomcat = await fakeTomcat(t)
    const server = await startHttpServer(t, (req, res) => {
      if (req.url === '/manager/status?XML=true') return res.end(statusXml([2, 1]))
      if (req.url === '/manager/text/sessions?path=%2Fapp') return res.end(sessionsText('/app', [3]))
      if (req.url === '/manager/text/list') return res.end('OK - Listed applications for virtual host [localhost]\n/app:running:3:app\n')
      res.statusCode = 404
      res.end()
    })
    const agent = await startAgent(
      t,
      {
        ...fast,
        tomcatUrl: tomcat.server.url('/app/health'),
        tomcatManagerUrl: server.url('/manager'),
        tomcatManagerCredentialsFile: credentialsFile,
        tomcatManagerPollMs: '100',
      },
      dir,
    )
    await waitFor('ready', answers(agent, 200))
    t.equal(server.requests.length, 0, 'not polled while ready')
    t.same(agent.agent.core.tomcat.signals(), { busyThreads: null, sessions: null, versions: null, at: null, error: null })

    await agent.admin('PUT', '/v1/state', { state: 'drain' })
    const signals = await waitFor('signals', () => agent.agent.core.tomcat.signals().at !== null && agent.agent.core.tomcat.signals())
    t.same(
      { busyThreads: signals.busyThreads, sessions: signals.sessions, error: signals.error },
      { busyThreads: 2, sessions: { '/app': 3 }, error: null },
    )
    const s = await status(agent)
    t.match(s.tomcat.manager, {
      url: server.url('/manager'),
      contexts: ['/app'],
      polling: true,
      signals: { busyThreads: 2, sessions: { '/app': 3 } },
    })
    const metrics = await metricsText(agent)
    t.match(metrics, /health_agent_tomcat_busy_threads 2/)
    t.match(metrics, /health_agent_tomcat_active_sessions\{context="\/app"\} 3/)
    t.match(
      await (await fetch(agent.healthUrl + '/')).text(),
      /^manager {5}busy threads 2, sessions \/app=3 \(at \S+\); polled every 100 ms while draining$/m,
    )

    await agent.admin('PUT', '/v1/state', { state: 'ready' })
    t.equal((await status(agent)).tomcat.manager?.polling, false, 'polling stops once ready')
    await agent.agent.close()
    t.notMatch(readFileSync(agent.logFile, 'utf8'), secret, 'not in the log')
    t.notMatch(JSON.stringify(s), secret, 'not in the status')
  },
)
