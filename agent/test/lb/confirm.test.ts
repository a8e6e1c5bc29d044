import t from 'tap'
import { confirm, type ConfirmationInputs, type WaitGoal } from '../../src/lb/confirm.js'
import type { TomcatSignals } from '../../src/lb/tomcat-signals.js'
import type { LbView } from '../../src/lb/views.js'
import { parseServerState } from '../../src/lb/send-state.js'

const SINCE = Date.parse('2026-11-26T10:00:00.000Z')
const NOW = SINCE + 5000
const STALE = 2000

interface ViewSpec {
  /** ms before NOW of the last check; default 100 (fresh, after SINCE) */
  age?: number
  scur?: number
  qcur?: number
  weight?: number
  throttle?: number
  name?: string
  answered?: number
  /** checks so far and their usual interval (plain views); default 10 checks, 1000 ms apart */
  checks?: number
  cadenceMs?: number | null
}

/** A view of a load balancer with send-state: `lb('lb1', 'NOLB', { scur: 1 })`; the status may carry counts (`UP 2/3`). */
function lb(node: string, status: string, spec: ViewSpec = {}): LbView {
  const throttle = spec.throttle === undefined ? '' : `; throttle=${spec.throttle}%`
  const header = `${status}; address=127.0.0.1; port=8080; name=${spec.name ?? 'be/s1'}; node=${node}; weight=${spec.weight ?? 1}/2; scur=${spec.scur ?? 0}/9; qcur=${spec.qcur ?? 0}${throttle}`
  const state = parseServerState(header)
  if (!state) throw new Error(`test header does not parse: ${header}`)
  const at = NOW - (spec.age ?? 100)
  return {
    key: `${node}/${state.name}`,
    kind: 'send-state',
    node,
    name: state.name,
    source: '127.0.0.1',
    state,
    answered: spec.answered ?? 404,
    lastCheckAt: at,
    firstSeenAt: at - 60_000,
    checks: 10,
    cadenceMs: 1000,
    holdCapMs: null,
  }
}

/** A checker without send-state, known by its address and the answer it got. */
function plain(source: string, answered: number, spec: ViewSpec = {}): LbView {
  const at = NOW - (spec.age ?? 100)
  const cadenceMs = spec.cadenceMs === undefined ? 1000 : spec.cadenceMs
  return {
    key: source,
    kind: 'plain',
    node: null,
    name: null,
    source,
    state: null,
    answered,
    lastCheckAt: at,
    firstSeenAt: at - 60_000,
    checks: spec.checks ?? 10,
    cadenceMs,
    holdCapMs: null,
  }
}

function inputs(goal: WaitGoal, views: LbView[], extra: Partial<ConfirmationInputs> = {}): ConfirmationInputs {
  return { goal, since: SINCE, now: NOW, views, staleMs: STALE, expect: [], startedAt: SINCE - 600_000, ...extra }
}

const signals = (s: Partial<TomcatSignals>): TomcatSignals => ({ busyThreads: 0, sessions: 0, at: new Date(NOW - 50).toISOString(), ...s })

// [what, inputs, confirmed, a piece of the reason when not]
type Row = [string, ConfirmationInputs, boolean, (string | RegExp)?]

const DRAINED: Row[] = [
  ['two load balancers NOLB with nothing in flight', inputs('drained', [lb('lb1', 'NOLB'), lb('lb2', 'NOLB')]), true],
  [
    'one still has a session in flight',
    inputs('drained', [lb('lb1', 'NOLB'), lb('lb2', 'NOLB', { scur: 1 })]),
    false,
    'lb2 be/s1: NOLB with 1 session in flight',
  ],
  ['queued requests are in flight too', inputs('drained', [lb('lb1', 'NOLB', { qcur: 2 })]), false, 'NOLB with 2 queued'],
  ['DOWN with nothing in flight (an admin down after the drain)', inputs('drained', [lb('lb1', 'DOWN')]), true],
  ['DOWN still finishing sessions', inputs('drained', [lb('lb1', 'DOWN', { scur: 2 })]), false, 'DOWN with 2 sessions in flight'],
  ['NOLB going down (counts) with nothing in flight', inputs('drained', [lb('lb1', 'NOLB 1/3')]), true],
  [
    'UP: the load balancer has not acted on the 404 yet',
    inputs('drained', [lb('lb1', 'UP')]),
    false,
    'still UP: it has not acted on the drain yet',
  ],
  [
    'no check since the drain began',
    inputs('drained', [lb('lb1', 'NOLB', { age: 5001 })], { staleMs: 10_000 }),
    false,
    'no check since the drain began',
  ],
  [
    'a check exactly when the drain began does not count',
    inputs('drained', [lb('lb1', 'NOLB', { age: 5000 })], { staleMs: 10_000 }),
    false,
    'no check since',
  ],
  ['checks disabled ("no check")', inputs('drained', [lb('lb1', 'no check')]), false, 'not checking'],
  ['a stale load balancer is ignored', inputs('drained', [lb('lb1', 'NOLB'), lb('lb2', 'UP', { scur: 5, age: 3000 })]), true],
  [
    'unless it is expected',
    inputs('drained', [lb('lb1', 'NOLB'), lb('lb2', 'UP', { scur: 5, age: 3000 })], { expect: ['lb1', 'lb2'] }),
    false,
    'lb2 be/s1: no check for 3.0s',
  ],
  [
    'an expected load balancer that never checked',
    inputs('drained', [lb('lb1', 'NOLB')], { expect: ['lb1', 'lb3'] }),
    false,
    'expected load balancer lb3 has not checked',
  ],
  ['every expected one confirms', inputs('drained', [lb('lb1', 'NOLB'), lb('lb2', 'NOLB')], { expect: ['lb1', 'lb2'] }), true],
  [
    'every server name a load balancer uses for this server must confirm',
    inputs('drained', [lb('lb1', 'NOLB'), lb('lb1', 'NOLB', { name: 'other/s1', scur: 1 })]),
    false,
    'lb1 other/s1',
  ],
  ['nobody has ever checked (agent up longer than the stale window): nothing to drain', inputs('drained', []), true],
  [
    'nobody has checked yet, agent just started: load balancers may still check in',
    inputs('drained', [], { startedAt: NOW - 500 }),
    false,
    'the agent started 0.5s ago',
  ],
  [
    'nobody seen, but an agent-check listener is on: its load balancers are not seen',
    inputs('drained', [], { agentCheck: true }),
    false,
    'no load balancer has checked in the last 2.0s',
  ],
  ['only stale views: nothing confirms', inputs('drained', [lb('lb1', 'NOLB', { age: 2500 })]), false, 'no load balancer has checked'],
  [
    'the agent just started: others may not have checked in yet',
    inputs('drained', [lb('lb1', 'NOLB')], { startedAt: NOW - 500 }),
    false,
    'the agent started 0.5s ago',
  ],
  [
    'just started, but every expected one confirms',
    inputs('drained', [lb('lb1', 'NOLB')], { startedAt: NOW - 500, expect: ['lb1'] }),
    true,
  ],
  ['without send-state: a 404 after the drain began confirms', inputs('drained', [plain('10.0.0.5', 404)]), true],
  ['without send-state: so does a 500', inputs('drained', [plain('10.0.0.5', 500)]), true],
  ['without send-state: a 200 does not', inputs('drained', [plain('10.0.0.5', 200)]), false, '10.0.0.5: its last check was answered 200'],
  [
    'without send-state: expected by source address',
    inputs('drained', [lb('lb1', 'NOLB')], { expect: ['lb1', '10.0.0.5'] }),
    false,
    'expected load balancer 10.0.0.5',
  ],
  [
    'without send-state: expected and seen',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.5', 404)], { expect: ['lb1', '10.0.0.5'] }),
    true,
  ],
  // A checker without send-state counts only once it checks regularly (3 checks, at most stale/2 apart).
  [
    'a one-off curl before the drain does not hold it',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.7', 200, { age: 4000, checks: 1, cadenceMs: null })], { staleMs: 10_000 }),
    true,
  ],
  [
    'two curls neither',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.7', 200, { age: 4000, checks: 2, cadenceMs: 300 })], { staleMs: 10_000 }),
    true,
  ],
  [
    'curls minutes apart neither',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.7', 200, { age: 4000, checks: 5, cadenceMs: 120_000 })], { staleMs: 10_000 }),
    true,
  ],
  [
    'with no load balancer with send-state checking, a regular checker without it counts: not checked since the drain began, it holds it',
    inputs('drained', [plain('10.0.0.5', 200, { age: 5001, cadenceMs: 2000 })], { staleMs: 10_000 }),
    false,
    '10.0.0.5: no check since the drain began',
  ],
  // Once a load balancer with send-state checks, a checker without it counts only when expected.
  [
    'a regular checker without send-state beside a load balancer with it is not counted',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.5', 200, { age: 5001, cadenceMs: 2000 })], { staleMs: 10_000 }),
    true,
  ],
  [
    'a script that polled every 50 ms until the agent answered, then stopped, does not hold the next drain',
    inputs('drained', [lb('lb1', 'NOLB', { age: 50 }), plain('127.0.0.1', 200, { age: 400, checks: 60, cadenceMs: 50 })], {
      since: NOW - 300,
      staleMs: 10_000,
    }),
    true,
  ],
  [
    'unless it is expected',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.5', 200, { age: 5001, cadenceMs: 2000 })], {
      staleMs: 10_000,
      expect: ['10.0.0.5'],
    }),
    false,
    '10.0.0.5: no check since the drain began',
  ],
  [
    'a regular checker that stopped is stale after 3 of its intervals, not the stale time',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.5', 200, { age: 3500, cadenceMs: 1000 })], { staleMs: 10_000 }),
    true,
  ],
  [
    'a one-off is counted when expected',
    inputs('drained', [lb('lb1', 'NOLB'), plain('10.0.0.7', 200, { age: 4000, checks: 1, cadenceMs: null })], {
      staleMs: 10_000,
      expect: ['lb1', '10.0.0.7'],
    }),
    false,
    '10.0.0.7: its last check was answered 200',
  ],
  [
    'a regular checker without send-state gone silent: it may still send traffic, nothing confirms',
    inputs('drained', [plain('127.0.0.1', 200, { age: 3500, checks: 40, cadenceMs: 250 })]),
    false,
    'no load balancer has checked in the last 2.0s',
  ],
  [
    'a regular checker without send-state checking now (LVS): it must confirm',
    inputs('drained', [plain('10.0.0.5', 200)]),
    false,
    '10.0.0.5: its last check was answered 200',
  ],
  [
    'only one-offs: no load balancer checks, nothing to drain',
    inputs('drained', [plain('10.0.0.7', 404, { checks: 1, cadenceMs: null })]),
    true,
  ],
  [
    'one-offs beside a load balancer gone stale: said plainly',
    inputs('drained', [lb('lb1', 'NOLB', { age: 2500 }), plain('10.0.0.7', 404, { checks: 1, cadenceMs: null })]),
    false,
    'no load balancer has checked in the last 2.0s: nothing can confirm this (one-off requests from 10.0.0.7 are not counted); list them with --expect-lb',
  ],
]

const TOMCAT: Row[] = [
  ['Tomcat idle', inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({}), maxSessions: -1 } }), true],
  [
    'no Tomcat reading yet',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: null, maxSessions: -1 } }),
    false,
    'no Tomcat manager reading yet',
  ],
  [
    'a reading from before the drain',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ at: new Date(SINCE - 1).toISOString() }), maxSessions: -1 } }),
    false,
    'since the drain began',
  ],
  [
    'a busy request thread',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ busyThreads: 1 }), maxSessions: -1 } }),
    false,
    'Tomcat has 1 busy request thread',
  ],
  [
    'busy threads unknown',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ busyThreads: null }), maxSessions: -1 } }),
    false,
    'busy threads unknown',
  ],
  [
    'sessions ignored without --max-sessions',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ sessions: 500 }), maxSessions: -1 } }),
    true,
  ],
  [
    'sessions above --max-sessions',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ sessions: 4 }), maxSessions: 3 } }),
    false,
    'Tomcat has 4 active sessions (at most 3 wanted)',
  ],
  [
    'sessions at --max-sessions',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ sessions: 3 }), maxSessions: 3 } }),
    true,
  ],
  [
    'sessions unknown with --max-sessions',
    inputs('drained', [lb('lb1', 'NOLB')], { tomcat: { signals: signals({ sessions: null }), maxSessions: 0 } }),
    false,
    'sessions unknown',
  ],
  [
    'Tomcat idle does not confirm for the load balancers',
    inputs('drained', [lb('lb1', 'NOLB', { scur: 1 })], { tomcat: { signals: signals({}), maxSessions: -1 } }),
    false,
    'in flight',
  ],
  [
    'Tomcat signals do not count for down',
    inputs('down', [lb('lb1', 'DOWN')], { tomcat: { signals: signals({ busyThreads: 9 }), maxSessions: -1 } }),
    true,
  ],
]

const DOWN: Row[] = [
  ['DOWN, even with sessions finishing', inputs('down', [lb('lb1', 'DOWN', { scur: 3 }), lb('lb2', 'DOWN')]), true],
  ['NOLB with nothing in flight sends no traffic', inputs('down', [lb('lb1', 'NOLB')]), true],
  ['NOLB with sessions in flight', inputs('down', [lb('lb1', 'NOLB', { scur: 1 })]), false, 'NOLB with 1 session in flight'],
  [
    'UP going down (fall not reached yet)',
    inputs('down', [lb('lb1', 'UP 2/3', { scur: 1 })]),
    false,
    'still UP 2/3: it has not marked it down yet',
  ],
  ['without send-state: a 500', inputs('down', [plain('10.0.0.5', 500)]), true],
  ['without send-state: a 404 is not down', inputs('down', [plain('10.0.0.5', 404)]), false, 'answered 404'],
]

const READY: Row[] = [
  ['both UP', inputs('ready', [lb('lb1', 'UP'), lb('lb2', 'UP')]), true],
  ['UP during slowstart', inputs('ready', [lb('lb1', 'UP', { throttle: 10 })]), true],
  ['one still NOLB', inputs('ready', [lb('lb1', 'UP'), lb('lb2', 'NOLB')]), false, 'lb2 be/s1: still NOLB'],
  ['DOWN going up', inputs('ready', [lb('lb1', 'DOWN 1/2')]), false, 'still DOWN 1/2'],
  [
    'UP with a failed check pending (or just started: UP 1/3)',
    inputs('ready', [lb('lb1', 'UP 1/3')]),
    false,
    'UP 1/3: not steadily up yet',
  ],
  ['UP with weight 0', inputs('ready', [lb('lb1', 'UP', { weight: 0 })]), false, 'weight 0'],
  [
    'UP seen only before ready began',
    inputs('ready', [lb('lb1', 'UP', { age: 6000 })], { staleMs: 10_000 }),
    false,
    'no check since ready began',
  ],
  ['without send-state: a 200', inputs('ready', [plain('10.0.0.5', 200)]), true],
  ['without send-state: a 404', inputs('ready', [plain('10.0.0.5', 404)]), false, 'answered 404'],
  [
    'every load balancer UP while this agent still holds its answer',
    inputs('ready', [lb('lb1', 'UP')], { answer: { state: 'drain', why: 'back to ready from drain: 1 of 2 passing probes begun since' } }),
    false,
    'this agent still answers drain: back to ready from drain',
  ],
  [
    'every load balancer UP and this agent answers ready',
    inputs('ready', [lb('lb1', 'UP')], { answer: { state: 'ready', why: null } }),
    true,
  ],
  ['nobody has ever checked: ready once this agent answers ready', inputs('ready', [], { answer: { state: 'ready', why: null } }), true],
  [
    'nobody has ever checked, but this agent still answers down (Tomcat warming up)',
    inputs('ready', [], { answer: { state: 'down', why: 'warming up' } }),
    false,
    'this agent still answers down: warming up',
  ],
  [
    'a load balancer seen and gone stale: ready is not confirmed by zero load balancers',
    inputs('ready', [lb('lb1', 'UP', { age: 2500 })], { answer: { state: 'ready', why: null } }),
    false,
    'no load balancer has checked',
  ],
]

for (const [table, rows] of Object.entries({ drained: DRAINED, 'drained with Tomcat signals': TOMCAT, down: DOWN, ready: READY })) {
  t.test(`confirmation: ${table}`, async (t) => {
    for (const [what, input, confirmed, reason] of rows) {
      const result = confirm(input)
      t.equal(result.confirmed, confirmed, what)
      if (confirmed) t.equal(result.why, null, `${what}: no reason given`)
      else if (reason) t.match(result.why ?? '', reason, `${what}: says why`)
    }
  })
}

t.test('each load balancer is reported with its numbers, sorted', async (t) => {
  const result = confirm(
    inputs('drained', [lb('lb2', 'NOLB', { scur: 2 }), lb('lb1', 'NOLB'), lb('lb3', 'UP', { age: 2500 })], { expect: ['lb4'] }),
  )
  t.same(
    result.loadBalancers.map((l) => l.lb),
    ['lb1', 'lb2', 'lb3'],
  )
  t.match(result.loadBalancers[0], {
    lb: 'lb1',
    server: 'be/s1',
    status: 'NOLB',
    scur: 0,
    qcur: 0,
    weight: '1/2',
    ageMs: 100,
    stale: false,
    confirmed: true,
    why: null,
  })
  t.match(result.loadBalancers[1], { lb: 'lb2', scur: 2, confirmed: false, why: 'NOLB with 2 sessions in flight' })
  t.match(result.loadBalancers[2], { lb: 'lb3', stale: true, confirmed: false, why: 'no check for 2.5s (stale: ignored)' })
  t.same(result.missing, ['lb4'])
  t.equal(result.since, '2026-11-26T10:00:00.000Z')
  t.equal(result.tomcat, null)
})

t.test('noLoadBalancer: set only when no load balancer checks at all', async (t) => {
  t.equal(confirm(inputs('drained', [])).noLoadBalancer, true, 'nothing seen in the whole stale window')
  t.equal(confirm(inputs('drained', [lb('lb1', 'NOLB')])).noLoadBalancer, false, 'a load balancer checks')
  t.equal(confirm(inputs('drained', [lb('lb1', 'NOLB', { age: 2500 })])).noLoadBalancer, false, 'one was seen, now stale')
  t.equal(confirm(inputs('drained', [plain('10.0.0.5', 404)])).noLoadBalancer, false, 'a regular checker without send-state checks now')
  t.equal(confirm(inputs('drained', [], { expect: ['lb1'] })).noLoadBalancer, false, 'one is expected')
  t.equal(confirm(inputs('drained', [], { startedAt: NOW - 500 })).noLoadBalancer, false, 'too soon to say')
})
