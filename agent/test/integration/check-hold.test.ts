import { createServer } from 'node:http'
import { connect } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { recommendedBackend } from '../e2e/stack.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const SETTLED_UP = 'UP; address=127.0.0.1; port=8080; name=be/t1; node=lb1; weight=1/1; scur=0/0; qcur=0'

async function heldNow(running: RunningAgent): Promise<number> {
  const text = (await httpRequest(`${running.healthUrl}/metrics`)).body
  return Number(/^health_agent_checks_held (\d+)$/m.exec(text)?.[1] ?? NaN)
}

/** A check sent by hand on its own connection; `abort()` hangs up as a load balancer going away would. */
function heldCheck(running: RunningAgent, headers: Record<string, string>): { answer: Promise<string>; abort(): void } {
  const socket = connect({ host: '127.0.0.1', port: running.healthPort })
  const lines = ['GET /health HTTP/1.0', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', '']
  socket.on('connect', () => socket.write(lines.join('\r\n')))
  const answer = new Promise<string>((resolve, reject) => {
    let text = ''
    socket.on('data', (c: Buffer) => (text += c.toString()))
    socket.on('error', reject)
    socket.on('close', () => resolve(text))
  })
  return { answer, abort: () => socket.destroy() }
}

/**
 * The answer to a check, within `ms`: with holds of a minute in this test, a check that comes
 * back within seconds was answered at once (or released by a change), not held to the end.
 */
async function within(check: { answer: Promise<string> }, ms: number, what: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (held?)`)), ms)
  })
  try {
    return await Promise.race([check.answer, late])
  } finally {
    clearTimeout(timer)
  }
}

t.test('a check is held only when its load balancer asks and already shows the answer', async (t) => {
  // Holds of a minute: an answer that comes within seconds was not held to the end.
  const running = await startAgent(t, { checkHoldMaxMs: '60000' })
  const asked = { 'x-haproxy-server-state': SETTLED_UP, 'x-health-hold': '60000' }
  const view = (status: string, scur = 0) => ({
    ...asked,
    'x-haproxy-server-state': SETTLED_UP.replace('UP;', `${status};`).replace('scur=0/0', `scur=${scur}/${scur}`),
  })

  // Another load balancer (its own view) hangs up on its held check.
  const gone = heldCheck(running, { ...asked, 'x-haproxy-server-state': SETTLED_UP.replace('node=lb1', 'node=lb9') })
  await waitFor('the check is held', async () => (await heldNow(running)) === 1, { timeoutMs: 10_000 })
  gone.abort()
  await gone.answer.catch(() => '')
  await waitFor('a load balancer that hangs up leaves nothing held', async () => (await heldNow(running)) === 0, { timeoutMs: 10_000 })
  const lb9 = running.agent.core.lb.views.list().find((v) => v.node === 'lb9')
  t.equal(lb9?.holdCapMs, 0, 'and, cut after a few milliseconds, its checks are not held any more')

  for (const [name, headers] of [
    ['no X-Health-Hold', { 'x-haproxy-server-state': SETTLED_UP }],
    ['no send-state header', { 'x-health-hold': '60000' }],
    ['a view that moves (UP 1/2)', view('UP 1/2')],
    ['a view that differs from the answer (NOLB while ready)', view('NOLB')],
    ['a hold that is not a duration', { ...asked, 'x-health-hold': 'forever' }],
  ] as const) {
    t.match(await within(heldCheck(running, headers), 5000, name), /^HTTP\/1\.1 200 OK/, `${name}: answered at once`)
  }

  const drained = heldCheck(running, asked)
  await waitFor('held again', async () => (await heldNow(running)) === 1, { timeoutMs: 10_000 })
  await running.agent.core.setState({ state: 'drain', reason: 'hold test' })
  t.match(await within(drained, 5000, 'the drain'), /^HTTP\/1\.1 404 /, 'the drain answers the held check at once, with the new answer')

  // A drain wait wants the next view of a load balancer that still shows sessions: answered at once.
  // One that shows none is held; a new wait answers it, so that its next view comes soon.
  const wait = running.agent.core.wait('drained', { timeoutMs: 60_000, forceAfterMs: 0, progressMs: 60_000, onEvent: () => undefined })
  t.teardown(() => wait.cancel())
  t.match(await within(heldCheck(running, view('NOLB', 2)), 5000, 'NOLB with sessions'), /^HTTP\/1\.1 404 /, 'NOLB with sessions: at once')
  const idle = heldCheck(running, view('NOLB'))
  await waitFor('NOLB with no session held', async () => (await heldNow(running)) === 1, { timeoutMs: 10_000 })
  const second = running.agent.core.wait('drained', { timeoutMs: 60_000, forceAfterMs: 0, progressMs: 60_000, onEvent: () => undefined })
  t.teardown(() => second.cancel())
  t.match(await within(idle, 5000, 'a new wait'), /^HTTP\/1\.1 404 /, 'a new wait answers the held check')
  wait.cancel()
  second.cancel()

  await running.agent.core.setState({ state: 'ready' })
  const closing = heldCheck(running, asked)
  await waitFor('held once more', async () => (await heldNow(running)) === 1, { timeoutMs: 10_000 })
  await running.agent.close()
  t.match(await within(closing, 5000, 'closing'), /^HTTP\/1\.1 200 OK/, 'an agent that closes answers what it holds instead of cutting it')
})

/** The recommended backend as the end-to-end stack uses it, with every check logged (logging only: log-health-checks). */
function loggedBackend(serverPort: number, agentPort: number, stateFile: string): string {
  const logging = 'global\n    log stderr format raw local0\n\ndefaults\n    log global\n    option log-health-checks\n    mode http\n'
  const timeouts = '    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n'
  return logging + timeouts + recommendedBackend([{ name: 'web1', port: serverPort, checkPort: agentPort }], stateFile)
}

/** A real agent behind a real HAProxy on the recommended backend (`edit` changes it first; `flags` the agent's defaults). */
async function agentBehindHaproxy(t: Test, edit: (config: string) => string = (c) => c, flags: Record<string, string> = {}) {
  const running = await startAgent(t, flags)
  const server = createServer((_, res) => res.end('app\n'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const stateFile = join(running.dir, 'haproxy-server-state')
  writeFileSync(stateFile, '1\n')
  const config = edit(loggedBackend((server.address() as { port: number }).port, running.healthPort, stateFile))
  const haproxy = await startHaproxy(t, running.dir, config)
  const status = async () => (await haproxy.serverStat('be', 'web1')).status
  await waitFor('HAProxy sees web1 UP', async () => (await status()) === 'UP', { timeoutMs: 30_000 })
  return { running, haproxy, status, config }
}

t.test('held 5 s (the snippet holds 1 s): a drain, a down and a return reach HAProxy on the check the agent was holding', async (t) => {
  // The hold is longer than the snippet's so that a slow disk (the state file's fsync, under the
  // rest of the suite) cannot outlast it: the property, not the figure, is what this shows.
  const { running, haproxy, status } = await agentBehindHaproxy(
    t,
    (c) => c.replace('X-Health-Hold 1000', 'X-Health-Hold 5000').replace('timeout check 2s', 'timeout check 7s'),
    { checkHoldMaxMs: '5000' },
  )

  // Each change is made once the check in hand has been held for a while: if HAProxy acted on a
  // check of its own (one inter later), the check duration it logs would be a few milliseconds.
  const HELD_FOR_MS = 300
  const steps = [
    [
      'drain',
      'NOLB',
      /conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: (\d+)ms, status: 2\/2 UP/,
    ],
    ['ready', 'UP', /succeeded, reason: Layer7 check passed, code: 200, check duration: (\d+)ms, status: 2\/2 UP/],
    ['down', 'DOWN', /failed, reason: Layer7 wrong status, code: 500, info: "[^"]*", check duration: (\d+)ms, status: 1\/2 UP/],
    // rise 1: the one 200 takes it from DOWN to UP.
    ['ready', 'UP', /succeeded, reason: Layer7 check passed, code: 200, check duration: (\d+)ms, status: 2\/2 UP/],
  ] as const
  for (const [state, expected, logged] of steps) {
    await waitFor(
      `a check held for ${HELD_FOR_MS} ms`,
      async () => {
        // Held first, then its age: the held check is then the latest to arrive.
        if ((await heldNow(running)) !== 1) return false
        const view = running.agent.core.lb.views.list()[0]
        const heldFor = view === undefined ? 0 : Date.now() - view.lastCheckAt
        // Far from the end of the hold (5 s), where HAProxy would start a check of its own.
        return heldFor >= HELD_FOR_MS && heldFor <= HELD_FOR_MS + 500
      },
      { timeoutMs: 30_000, intervalMs: 20 },
    )
    const logFrom = haproxy.output().length
    const changedAt = Date.now()
    await running.agent.core.setState({ state, reason: 'hold test' })
    const seenAt = await waitFor(`HAProxy shows ${expected}`, async () => ((await status())?.startsWith(expected) ? Date.now() : false), {
      timeoutMs: 30_000,
      intervalMs: 10,
    })
    if (expected === 'DOWN' || state === 'ready') {
      await waitFor(`${expected} settled`, async () => (await status()) === expected, { timeoutMs: 30_000, intervalMs: 10 })
    }
    const line = logged.exec(haproxy.output().slice(logFrom))
    t.ok(line, `HAProxy logged the check that carried ${state}${line ? '' : `:\n${haproxy.output().slice(logFrom)}`}`)
    t.ok(Number(line?.[1]) >= HELD_FOR_MS, `that check had been held ${line?.[1]} ms: the agent answered it when the state changed`)
    t.comment(`${state}: HAProxy showed ${expected} ${seenAt - changedAt} ms after the change`)
  }
  const checks = running.agent.core.lb.views.list().reduce((sum, view) => sum + view.checks, 0)
  t.equal(
    running.agent.core.metrics.connectionsByReader.get('direct'),
    checks,
    `all ${checks} of HAProxy's checks were read straight from the socket`,
  )
})

t.test('a load balancer whose timeout check is shorter than its hold: one failed check, then the agent holds it shorter', async (t) => {
  // The recommended backend with an operator's shorter timeout check than the hold it asks for.
  const { running, haproxy, status, config } = await agentBehindHaproxy(t, (c) => c.replace('timeout check 2s', 'timeout check 400ms'))
  t.match(config, /timeout check 400ms/)
  const view = () => running.agent.core.lb.views.list()[0]
  await waitFor('the agent learnt a shorter hold for it', () => (view()?.holdCapMs ?? null) !== null, {
    timeoutMs: 30_000,
    intervalMs: 20,
  })
  const learnt = view()?.holdCapMs ?? 0
  t.ok(learnt > 0 && learnt < 400, `holds at most ${learnt} ms now`)
  const checksThen = view()?.checks ?? 0
  await waitFor('ten more checks', () => (view()?.checks ?? 0) >= checksThen + 10, { timeoutMs: 30_000, intervalMs: 50 })
  // Each check is logged twice (HAProxy's warning, then the raw log line): count the warnings.
  const timeouts = haproxy.output().match(/\[WARNING\][^\n]*Health check for server be\/web1 failed, reason: Layer7 timeout/g) ?? []
  t.equal(timeouts.length, 1, `one check timed out, the first held one; none since (${timeouts.length})`)
  t.equal(await status(), 'UP', 'the server stayed UP: one failed check of fall 2')
  t.ok(
    running.logLines().some((l) => /hung up on a check held \d+ ms of 1000/.test(String(l.msg))),
    'the agent says why it holds that load balancer shorter',
  )
})
