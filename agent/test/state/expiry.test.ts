import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { AgentStatus } from '../../src/protocol/status.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { startHttpServer } from '../helpers/http-server.js'
import { waitFor } from '../helpers/wait.js'

async function status(agent: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await agent.admin('GET', '/v1/status')).body) as AgentStatus
}

function auditLines(agent: RunningAgent): Array<Record<string, unknown>> {
  return readFileSync(join(agent.dir, 'audit.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

async function metric(agent: RunningAgent, pattern: RegExp): Promise<number | null> {
  const text = await (await fetch(`${agent.healthUrl}/metrics`)).text()
  const match = pattern.exec(text)
  return match ? Number(match[1]) : null
}

t.test('a drain set for 1 s ends by itself: ready, audited as expired, shown in status and metrics', async (t) => {
  const agent = await startAgent(t)
  const before = Date.now()
  const set = await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'deploy v42', by: 'alice', for: 1 })
  t.equal(set.status, 200, set.body)
  const s = await status(agent)
  t.equal(s.admin?.state, 'drain')
  const until = Date.parse(s.admin?.until ?? '')
  t.ok(until >= before + 1000 && until <= Date.now() + 1000, `until ${s.admin?.until} is 1 s after the call`)
  t.match(readFileSync(join(agent.dir, 'state'), 'utf8'), /^drain .*until=\S+/, 'the expiry is in the state file')
  t.equal(await metric(agent, /^health_agent_admin_state_expiry_timestamp_seconds (\S+)$/m), until / 1000)
  t.ok(
    (await metric(agent, /^health_agent_admin_state_age_seconds\{state="drain"\} (\S+)$/m)) !== null,
    'the age is labelled with the state',
  )
  t.equal((await agent.check()).status, 404)

  await waitFor('the check to answer 200 again', async () => (await agent.check()).status === 200, { timeoutMs: 15_000 })
  t.ok(Date.now() >= until, 'not before its time')
  const after = await status(agent)
  t.equal(after.admin?.state, 'ready')
  t.equal(after.admin?.until, null)
  t.match(after.admin?.reason, /^drain expired \(set until .* by alice\)$/)
  const last = auditLines(agent).at(-1)
  t.match(last, { from: 'drain', to: 'ready', source: 'expired', by: 'health-agent' })
  t.match(auditLines(agent).at(-2), { from: 'ready', to: 'drain', source: 'api', until: s.admin?.until })
  t.equal(await metric(agent, /^health_agent_admin_state_expiry_timestamp_seconds (\S+)$/m), 0)
  t.equal(await metric(agent, /^health_agent_admin_state_expiries_total\{from="drain"\} (\S+)$/m), 1)
})

t.test('a change made before the expiry wins: a new drain without --for is not ended by the old expiry', async (t) => {
  const agent = await startAgent(t)
  await agent.admin('PUT', '/v1/state', { state: 'drain', for: 1 })
  const first = Date.parse((await status(agent)).admin?.until ?? '')
  const again = await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'keep it' })
  t.equal(again.status, 200)
  t.equal((await status(agent)).admin?.until, null)
  // Bounded wait for an absence: past the first expiry by a margin the timer would have used.
  await waitFor('the first expiry to have passed by 1.5 s', () => Date.now() > first + 1500, { timeoutMs: 10_000 })
  t.equal((await status(agent)).admin?.state, 'drain')
  t.notOk(
    auditLines(agent).some((l) => l.source === 'expired'),
    'nothing expired',
  )
})

t.test('until= written by a shell is honoured; one already past ends the drain at once', async (t) => {
  const agent = await startAgent(t)
  writeFileSync(join(agent.dir, 'state'), `down reason="by hand" until=${new Date(Date.now() - 60_000).toISOString()}\n`)
  // The agent starts ready: wait for the expiry itself, not for ready.
  await waitFor('the past expiry to end the down', () => auditLines(agent).some((l) => l.source === 'expired'), { timeoutMs: 15_000 })
  t.equal((await status(agent)).admin?.state, 'ready')
  const lines = auditLines(agent)
  t.match(lines.at(-2), { to: 'down', source: 'file' })
  t.match(lines.at(-1), { from: 'down', to: 'ready', source: 'expired' })
  t.match(readFileSync(join(agent.dir, 'state'), 'utf8'), /^ready reason="down expired/, 'ready is written to the file')
})

t.test('an expiry due while the state file is broken waits for the file to be readable again', async (t) => {
  const agent = await startAgent(t)
  await agent.admin('PUT', '/v1/state', { state: 'drain', for: 1 })
  const until = Date.parse((await status(agent)).admin?.until ?? '')
  writeFileSync(join(agent.dir, 'state'), 'drain reason="half writ')
  await waitFor('the problem to be reported', async () => (await status(agent)).stateFile.ok === false)
  await waitFor(
    'the expiry to be due and logged',
    () => Date.now() > until && agent.logLines().some((l) => /drain expired, but the state file is not readable/.test(String(l.msg))),
    { timeoutMs: 10_000 },
  )
  t.equal((await status(agent)).admin?.state, 'drain', 'the broken file is not overwritten')
  t.equal((await agent.check()).status, 404)
  writeFileSync(join(agent.dir, 'state'), `drain reason=fixed until=${new Date(until).toISOString()}\n`)
  await waitFor('the expiry once the file reads', async () => (await status(agent)).admin?.state === 'ready', { timeoutMs: 15_000 })
  t.match(auditLines(agent).at(-1), { from: 'drain', to: 'ready', source: 'expired' })
})

t.test('an expiry returns to ready only through the rules of any ready: Tomcat down keeps 500 (faster probe timers)', async (t) => {
  // A stand-in for Tomcat's health URL whose answer the test switches, as in monitor.test.ts.
  let healthy = false
  const tomcat = await startHttpServer(t, (_req, res) => {
    res.statusCode = healthy ? 200 : 500
    res.end(healthy ? 'UP\n' : 'boom\n')
  })
  const agent = await startAgent(t, {
    tomcatUrl: tomcat.url('/app/health'),
    tomcatIntervalMs: '50',
    tomcatTimeoutMs: '500',
    tomcatFall: '2',
    tomcatRise: '2',
  })
  await agent.admin('PUT', '/v1/state', { state: 'drain', for: 1 })
  await waitFor('the expiry', async () => (await status(agent)).admin?.state === 'ready', { timeoutMs: 15_000 })
  const s = await status(agent)
  t.equal(s.effective.state, 'down', 'admin ready, but Tomcat fails its probe')
  t.equal((await agent.check()).status, 500)
  healthy = true
  await waitFor('200 once Tomcat passes rise probes', async () => (await agent.check()).status === 200, { timeoutMs: 15_000 })
})

t.test('the admin API refuses an expiry it cannot honour, naming the problem', async (t) => {
  const agent = await startAgent(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ state: 'ready', for: 60 }, /"for" goes with drain or down/],
    [{ state: 'drain', for: 0 }, /"for": expected a number of seconds from 1 to 604800 \(7 days\), got 0/],
    [{ state: 'drain', for: '2h' }, /"for": expected a number of seconds/],
    [{ state: 'down', for: 604801 }, /got 604801/],
  ]
  for (const [body, message] of cases) {
    const res = await agent.admin('PUT', '/v1/state', body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.match((JSON.parse(res.body) as { message: string }).message, message)
  }
  t.equal((await status(agent)).admin?.state, 'ready', 'nothing changed')
})
