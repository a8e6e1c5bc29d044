import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import type { AgentStatus } from '../../src/protocol/status.js'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { requireTomcat, Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { writeWar } from '../helpers/war.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The agent against a real Debian Tomcat 10: death (kill -9), restart with warm-up, drain while
 * down, a hung JVM (SIGSTOP) and a graceful stop. One Tomcat and one agent for the whole file,
 * the steps in order, to keep the suite fast.
 */

const INTERVAL_MS = 200
const TIMEOUT_MS = 1000
const FALL = 2
const RISE = 2
const WARMUP = ['/app/index.jsp', '/app/warm.txt']
const WARMUP_REQUESTS = 2

async function status(agent: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await agent.admin('GET', '/v1/status')).body) as AgentStatus
}

/** Checks every 10 ms until `code`, returning every answer seen and the time it took. */
async function checkUntil(
  agent: RunningAgent,
  code: number,
  timeoutMs: number,
): Promise<{ seen: number[]; ms: number; latencies: number[] }> {
  const started = performance.now()
  const seen: number[] = []
  const latencies: number[] = []
  await waitFor(
    `the agent to answer ${code}`,
    async () => {
      const before = performance.now()
      const answer = (await agent.check()).status
      latencies.push(performance.now() - before)
      seen.push(answer)
      return answer === code
    },
    { timeoutMs, intervalMs: 10 },
  )
  return { seen, ms: performance.now() - started, latencies }
}

/** Access-log lines of the agent's warm-up requests, from line `from` on. */
function warmupLines(tomcat: Tomcat, from = 0): string[] {
  return tomcat
    .accessLogLines()
    .slice(from)
    .filter((l) => l.endsWith('(warm-up)"'))
}

function countWarmups(lines: string[], path: string): number {
  return lines.filter((l) => l.includes(`"GET ${path} HTTP/1.1" 200 `)).length
}

/** The test webapp: a health file, a JSP to compile, a static page saying which version it is. */
function webapp(dir: string, version: string): string {
  return writeWebapp(dir, {
    'health.txt': 'UP\n',
    'warm.txt': `static page ${version}\n`,
    'index.jsp': '<%@ page contentType="text/plain" %><% long sum = 0; for (int i = 0; i < 1000; i++) sum += i; %>hello <%= sum %>\n',
  })
}

t.test('a missing Tomcat fails the test and says how to install it', async (t) => {
  t.throws(() => requireTomcat('/nonexistent/tomcat10'), { message: /Tomcat 10 is not installed .*sudo scripts\/install-system-deps\.sh/ })
})

t.test('fast timers (200 ms probe, fall 2): a real Tomcat 10 behind the agent', async (t) => {
  const tomcat = await Tomcat.create(t, { name: 't1' })
  const work = tempDir(t)
  tomcat.deployDir('/app', webapp(join(work, 'v1'), 'v1'))
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')

  const agent = await startAgent(t, {
    tomcatUrl: tomcat.url('/app/health.txt'),
    tomcatIntervalMs: String(INTERVAL_MS),
    tomcatTimeoutMs: String(TIMEOUT_MS),
    tomcatFall: String(FALL),
    tomcatRise: String(RISE),
    tomcatExpectBody: '^UP',
    warmupUrls: WARMUP.join(','),
    warmupRequests: String(WARMUP_REQUESTS),
  })

  await t.test('Tomcat up: warmed up, then 200', async (t) => {
    await checkUntil(agent, 200, 30_000)
    const lines = warmupLines(tomcat)
    for (const path of WARMUP) t.equal(countWarmups(lines, path), WARMUP_REQUESTS, `${path} warmed up (access log)`)
    t.match((await status(agent)).tomcat, {
      probe: { liveness: 'up', last: { ok: true, status: 200 } },
      warmup: { phase: 'passed', done: 4, failed: 0 },
    })
  })

  await t.test('kill -9: 500 within fall x interval', async (t) => {
    const killed = performance.now()
    await tomcat.kill('SIGKILL')
    const { ms } = await checkUntil(agent, 500, 10_000)
    const detectMs = performance.now() - killed
    const bound = FALL * INTERVAL_MS + 1500 // + slack for a busy two-core machine
    t.comment(
      `kill -9 to first 500: ${detectMs.toFixed(0)} ms (interval ${INTERVAL_MS} ms, fall ${FALL}, checks polled for ${ms.toFixed(0)} ms)`,
    )
    t.ok(detectMs < bound, `first 500 ${detectMs.toFixed(0)} ms after kill -9 (bound ${bound} ms)`)
    t.match((await status(agent)).effective, {
      state: 'down',
      cause: 'tomcat-down',
      why: /^tomcat probe failing for [\d.]+ s \(\d+ in a row\): connection refused$/,
    })
  })

  await t.test('drain while Tomcat is down stays 500; Tomcat back: warm-up, then 404, never 200', async (t) => {
    await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'deploy' })
    for (let i = 0; i < 3; i++) t.equal((await agent.check()).status, 500, 'still down')
    t.match(await status(agent), { admin: { state: 'drain' }, effective: { state: 'down', cause: 'tomcat-down' } })

    // Back with a new version, as a WAR this time.
    tomcat.deployWar('/app', writeWar(webapp(join(work, 'v2'), 'v2'), join(work, 'app-v2.war')))
    const logFrom = tomcat.accessLogLines().length
    await tomcat.start()
    const { seen } = await checkUntil(agent, 404, 60_000)
    t.notOk(seen.includes(200), 'never ready while drained')
    t.match((await status(agent)).tomcat.warmup, { phase: 'passed', done: 4, failed: 0 })
    const lines = await waitFor('the warm-up requests in the access log', () => {
      const found = warmupLines(tomcat, logFrom)
      return found.length >= WARMUP.length * WARMUP_REQUESTS && found
    })
    for (const path of WARMUP) t.equal(countWarmups(lines, path), WARMUP_REQUESTS, `${path} requested again after the restart`)

    // Back to ready: 404 (the state left) until rise probes begun after the change have passed.
    await agent.admin('PUT', '/v1/state', { state: 'ready' })
    t.equal((await agent.check()).status, 404, 'not 200 on the word alone')
    const back = await checkUntil(agent, 200, 10_000)
    t.notOk(back.seen.includes(500), 'a healthy Tomcat: no 500 on the way')
    t.equal((await httpRequest(tomcat.url('/app/warm.txt'))).body, 'static page v2\n', 'the WAR was deployed')
  })

  await t.test('kill -STOP: 500 after the timeout, the check answering at once meanwhile', async (t) => {
    const stopped = performance.now()
    await tomcat.pause()
    const { ms, latencies } = await checkUntil(agent, 500, 20_000)
    t.comment(`kill -STOP to first 500: ${(performance.now() - stopped).toFixed(0)} ms (timeout ${TIMEOUT_MS} ms, fall ${FALL})`)
    t.ok(ms >= TIMEOUT_MS, 'not before a probe timed out')
    t.match((await status(agent)).effective.why, /no answer within 1000 ms$/)
    const slowest = Math.max(...latencies)
    t.ok(latencies.length >= 20, `${latencies.length} checks while the probes hung`)
    t.ok(slowest < TIMEOUT_MS / 2, `each check well under the probe timeout (slowest ${slowest.toFixed(1)} ms)`)

    await tomcat.resume()
    await checkUntil(agent, 200, 30_000)
    t.pass('back to 200 after kill -CONT')
  })

  await t.test('a graceful stop through the shutdown port: 500', async (t) => {
    await tomcat.stop()
    t.notOk(tomcat.running, 'the JVM is gone')
    await checkUntil(agent, 500, 10_000)
    t.match((await status(agent)).effective.why, /connection refused$/)
  })
})
