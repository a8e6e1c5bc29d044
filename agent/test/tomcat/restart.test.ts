import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { join } from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import type { AgentStatus } from '../../src/protocol/status.js'
import { readTomcatIdentity } from '../../src/tomcat/pid-file.js'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Restart awareness on the agent's defaults (probe every 1000 ms, fall 3, rise 2, 100 ms while
 * drain/down or returning): a stand-in Tomcat on a fixed port is stopped and started again faster
 * than fall x interval, the way a drained Tomcat restarts through its shutdown port.
 */

interface Seen {
  path: string
  at: number
}

async function restartableTomcat(t: Parameters<typeof startAgent>[0]) {
  const seen: Seen[] = []
  const sockets = new Set<Socket>()
  let server: Server | null = null
  let port = 0
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((req, res) => {
        seen.push({ path: req.url ?? '', at: Date.now() })
        res.end(req.url === '/app/health' ? 'UP\n' : 'page\n')
      })
      s.on('connection', (c) => {
        sockets.add(c)
        c.on('close', () => sockets.delete(c))
      })
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port
        server = s
        resolve()
      })
    })
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server
      server = null
      if (!s) return resolve()
      for (const c of sockets) c.destroy()
      s.close(() => resolve())
    })
  t.teardown(close)
  await open()
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    stop: close,
    start: open,
    seen,
    warmups: (after: number) => seen.filter((s) => s.path !== '/app/health' && s.at >= after).length,
    probes: (from: number, to: number) => seen.filter((s) => s.path === '/app/health' && s.at >= from && s.at < to).length,
  }
}

async function status(agent: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await agent.admin('GET', '/v1/status')).body) as AgentStatus
}

/** Polls the check until it answers `code`; every answer seen on the way is kept. */
async function answersUntil(
  agent: RunningAgent,
  code: number,
  answers: Array<{ code: number; at: number }>,
  timeoutMs = 20_000,
): Promise<number> {
  const found = await waitFor(
    `the agent to answer ${code}`,
    async () => {
      const status = (await agent.check()).status
      const at = Date.now()
      answers.push({ code: status, at })
      return status === code ? at : undefined
    },
    { timeoutMs, intervalMs: 20 },
  )
  return found
}

async function readyAgent(t: Parameters<typeof startAgent>[0]) {
  const tomcat = await restartableTomcat(t)
  // Only the URLs are set: every timer is the default.
  const agent = await startAgent(t, { tomcatUrl: tomcat.url('/app/health'), warmupUrls: '/app/' })
  await answersUntil(agent, 200, [])
  return { tomcat, agent }
}

t.test(
  'defaults: a restart during drain shorter than fall x interval is seen; ready needs fresh probes and the warm-up again',
  async (t) => {
    const { tomcat, agent } = await readyAgent(t)
    await agent.admin('PUT', '/v1/state', { state: 'drain' })
    t.equal((await agent.check()).status, 404)
    t.match((await status(agent)).tomcat.probe, { watchful: true, fastIntervalMs: 100, intervalMs: 1000, fall: 3 })

    const stoppedAt = Date.now()
    await tomcat.stop()
    // Back within 700 ms, well under fall x interval (3 x 1000 ms).
    await waitFor(
      'a probe to find Tomcat stopped',
      async () => (await status(agent)).tomcat.probe?.lastFailure?.error === 'connection refused',
      { timeoutMs: 5000, intervalMs: 20 },
    )
    const downFor = Date.now() - stoppedAt
    await tomcat.start()
    t.ok(downFor < 3000, `stopped for ${downFor} ms`)
    const after = await status(agent)
    t.match(after.effective, { state: 'down', cause: 'tomcat-down' }, 'one refused connection while draining is a restart: 500')

    await waitFor(
      'the warm-up to run again after the restart',
      async () => (await status(agent)).tomcat.warmup?.phase === 'passed' && tomcat.warmups(stoppedAt) > 0,
      { timeoutMs: 20_000, intervalMs: 50 },
    )
    t.equal((await agent.check()).status, 404, 'warm again: drain answered as drain')

    const readyAt = Date.now()
    await agent.admin('PUT', '/v1/state', { state: 'ready' })
    const answers: Array<{ code: number; at: number }> = []
    const firstOk = await answersUntil(agent, 200, answers)
    t.equal(answers[0]?.code, 404, 'right after ready: still 404, the state being left')
    t.notOk(
      answers.some((a) => a.code === 200 && a.at < firstOk),
      'no 200 before the fresh probes',
    )
    t.ok(
      tomcat.probes(readyAt, firstOk) >= 2,
      `rise (2) probes began after ready before the first 200 (${tomcat.probes(readyAt, firstOk)})`,
    )
    t.ok(firstOk - readyAt < 3000, `ready answered after ${firstOk - readyAt} ms`)
    t.ok(
      agent.logLines().some((l) => /connection lost while drain: taken as a restart/.test(String(l.msg))),
      'the log says why',
    )
    t.match((await status(agent)).tomcat.probe, { watchful: false, returning: null })
  },
)

t.test(
  'defaults: the seed flow, ready set while Tomcat is still starting, never answers 200 to a Tomcat that does not serve',
  async (t) => {
    const { tomcat, agent } = await readyAgent(t)
    await agent.admin('PUT', '/v1/state', { state: 'drain' })
    await tomcat.stop()
    const stoppedAt = Date.now()
    // ready at once, before any probe ran: the return gate alone must hold it.
    await agent.admin('PUT', '/v1/state', { state: 'ready' })
    const answers: Array<{ code: number; at: number }> = []
    // The restart is seen within 5 s.
    await answersUntil(agent, 500, answers, 5000)
    t.notOk(
      answers.some((a) => a.code === 200),
      `no 200 while Tomcat is stopped (${answers.map((a) => a.code).join(',')})`,
    )
    await tomcat.start()
    const startedAt = Date.now()
    const firstOk = await answersUntil(agent, 200, answers)
    t.notOk(answers.some((a) => a.code === 200 && a.at < firstOk))
    t.ok(tomcat.warmups(stoppedAt) > 0, 'the warm-up ran again before 200')
    t.ok(tomcat.probes(startedAt, firstOk) >= 2, 'rise probes passed after the start')
  },
)

t.test('a return with no restart: no 500, no new warm-up', async (t) => {
  const { tomcat, agent } = await readyAgent(t)
  const warmups = tomcat.warmups(0)
  await agent.admin('PUT', '/v1/state', { state: 'drain' })
  await agent.admin('PUT', '/v1/state', { state: 'ready' })
  const answers: Array<{ code: number; at: number }> = []
  await answersUntil(agent, 200, answers)
  t.notOk(
    answers.some((a) => a.code === 500),
    'a plain return with a healthy Tomcat never answers 500',
  )
  t.equal((await status(agent)).tomcat.warmup?.phase, 'passed')
  t.equal(tomcat.warmups(0), warmups, 'Tomcat never failed a probe: no warm-up again')
})

/** A real process for the PID file to name, killed at teardown. */
function liveProcess(t: Parameters<typeof startAgent>[0]): number {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  return child.pid as number
}

t.test('the PID file names the process and its start time; nothing when missing or not a PID', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'catalina.pid')
  t.equal(await readTomcatIdentity(file), null, 'missing')
  writeFileSync(file, 'not a pid\n')
  t.equal(await readTomcatIdentity(file), null, 'not a PID')
  writeFileSync(file, `${process.pid}\n`)
  t.match(await readTomcatIdentity(file), new RegExp(`^${process.pid}@\\d+$`), 'PID@start time from /proc')
})

t.test('defaults + --tomcat-pid-file: a new Tomcat process is a restart even while ready and never unreachable', async (t) => {
  const tomcat = await restartableTomcat(t)
  const pidFile = join(tempDir(t), 'catalina.pid')
  writeFileSync(pidFile, `${liveProcess(t)}\n`)
  const agent = await startAgent(t, { tomcatUrl: tomcat.url('/app/health'), warmupUrls: '/app/', tomcatPidFile: pidFile })
  await answersUntil(agent, 200, [])
  const replacedAt = Date.now()
  // Another process now, and the probe never fails: only the PID file can tell.
  writeFileSync(pidFile, `${liveProcess(t)}\n`)
  const answers: Array<{ code: number; at: number }> = []
  // The new process is seen within 10 s.
  await answersUntil(agent, 500, answers, 10_000)
  t.match((await status(agent)).effective, { cause: 'tomcat-down', why: /tomcat restarted: .*catalina\.pid names a new process/ })
  await answersUntil(agent, 200, answers)
  t.ok(tomcat.warmups(replacedAt) > 0, 'the warm-up ran again')
  t.ok(
    agent.logLines().some((l) => /tomcat restarted: .* names a new process/.test(String(l.msg))),
    'the log says why',
  )
})
