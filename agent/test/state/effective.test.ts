import t from 'tap'
import { decide, type Cause, type TomcatFacts, type WarmupPhase } from '../../src/state/effective.js'
import { ADMIN_STATES, HTTP_STATUS_OF, type AdminState } from '../../src/state/model.js'
import { INITIAL_TRACK, advance } from '../../src/tomcat/liveness.js'

const FALL = 3
const RISE = 2
const STEP_MS = 1000

/**
 * Facts as the monitor would hold them after a probe history such as `ppfff` (p = pass,
 * f = fail, one probe a second), with the warm-up in the given phase; `now` is half a step after
 * the last probe.
 */
function factsAfter(history: string, phase: WarmupPhase, startupPolicy: 'down' | 'admin' = 'down'): { facts: TomcatFacts; now: number } {
  let track = INITIAL_TRACK
  ;[...history].forEach((c, i) => {
    track = advance(track, { ok: c === 'p', at: i * STEP_MS, error: c === 'p' ? null : 'connection refused' }, { fall: FALL, rise: RISE })
  })
  const facts: TomcatFacts = {
    startupPolicy,
    liveness: track.liveness,
    since: track.since,
    passes: track.passes,
    failures: track.failures,
    rise: RISE,
    fall: FALL,
    lastError: track.lastError,
    warmup: {
      phase,
      done: 3,
      failed: phase === 'failed' ? 2 : 0,
      total: 10,
      maxFailures: 1,
      lastError: phase === 'failed' ? 'GET /app/x: HTTP 500' : null,
      retryAt: null,
    },
  }
  return { facts, now: Math.max(0, history.length - 1) * STEP_MS + STEP_MS / 2 }
}

/** 'admin': the admin state comes through; otherwise the answer is down for that cause. */
type Expected = 'admin' | Cause

// [probe history, warm-up phase, startup policy, expected]
const TABLE: Array<[string, WarmupPhase, 'down' | 'admin', Expected]> = [
  // Before the first result: the startup policy decides.
  ['', 'pending', 'down', 'tomcat-unknown'],
  ['', 'pending', 'admin', 'admin'],
  ['f', 'pending', 'down', 'tomcat-unknown'],
  ['ff', 'none', 'admin', 'admin'],
  ['p', 'pending', 'down', 'tomcat-unknown'],
  ['p', 'none', 'admin', 'admin'],
  // fall failures in a row: down whatever the admin state and the policy.
  ['fff', 'pending', 'down', 'tomcat-down'],
  ['fff', 'none', 'admin', 'tomcat-down'],
  // rise passes: up, then the warm-up gate.
  ['pp', 'none', 'down', 'admin'],
  ['pp', 'pending', 'down', 'warmup'],
  ['pp', 'running', 'down', 'warmup'],
  ['pp', 'passed', 'down', 'admin'],
  ['pp', 'failed', 'down', 'warmup'],
  ['pp', 'ready-anyway', 'down', 'admin'],
  ['pp', 'skipped', 'admin', 'admin'],
  // Up: fewer than fall failures in a row change nothing.
  ['ppf', 'passed', 'down', 'admin'],
  ['ppff', 'passed', 'down', 'admin'],
  ['ppfpfpffpff', 'passed', 'down', 'admin'],
  // Down: fewer than rise passes in a row change nothing, and the warm-up does not open it.
  ['ppfff', 'passed', 'down', 'tomcat-down'],
  ['ppfffp', 'running', 'down', 'tomcat-down'],
  ['ppfffpfp', 'passed', 'down', 'tomcat-down'],
  // Back after rise passes: the warm-up again.
  ['ppfffpp', 'running', 'down', 'warmup'],
  ['ppfffpp', 'passed', 'down', 'admin'],
  ['ppfffpp', 'failed', 'admin', 'warmup'],
  ['ppfffpp', 'ready-anyway', 'down', 'admin'],
  // A hung Tomcat is a run of failures like any other.
  ['pppppfff', 'passed', 'admin', 'tomcat-down'],
]

t.test('admin state x probe history x warm-up', async (t) => {
  for (const [history, phase, policy, expected] of TABLE) {
    for (const admin of ADMIN_STATES) {
      const { facts, now } = factsAfter(history, phase, policy)
      const verdict = decide({ admin: { state: admin }, stateFileProblem: null, tomcat: facts, now })
      const label = `admin ${admin}, probes "${history}", warm-up ${phase}, startup ${policy}`
      if (expected === 'admin') {
        t.same(verdict, { state: admin, httpStatus: HTTP_STATUS_OF[admin], cause: 'admin', why: null }, `${label}: ${admin}`)
      } else {
        t.match(verdict, { state: 'down', httpStatus: 500, cause: expected, why: String }, `${label}: down (${expected})`)
      }
    }
  }
})

t.test('without a probe the admin state alone decides', async (t) => {
  for (const admin of ADMIN_STATES) {
    t.same(decide({ admin: { state: admin }, stateFileProblem: null }).state, admin)
    t.same(decide({ admin: { state: admin }, stateFileProblem: null, tomcat: null }).cause, 'admin')
  }
})

t.test('no valid admin state is down before anything Tomcat says', async (t) => {
  const { facts, now } = factsAfter('pp', 'passed')
  t.match(decide({ admin: null, stateFileProblem: 'the state file is empty', tomcat: facts, now }), {
    state: 'down',
    cause: 'no-state',
    why: 'no valid admin state: the state file is empty',
  })
})

t.test('tomcat never raises the answer: drain stays drain, down stays down', async (t) => {
  const { facts, now } = factsAfter('pp', 'passed')
  for (const admin of ['drain', 'down'] as AdminState[]) {
    t.equal(decide({ admin: { state: admin }, stateFileProblem: null, tomcat: facts, now }).state, admin)
  }
})

t.test('the why says what an operator needs', async (t) => {
  const why = (history: string, phase: WarmupPhase = 'passed', policy: 'down' | 'admin' = 'down') => {
    const { facts, now } = factsAfter(history, phase, policy)
    return decide({ admin: { state: 'ready' }, stateFileProblem: null, tomcat: facts, now }).why
  }
  t.equal(why('fff'), 'tomcat probe failing for 2.5 s (3 in a row): connection refused')
  t.equal(why('ppfffff'), 'tomcat probe failing for 4.5 s (5 in a row): connection refused')
  t.equal(why('ppfffp'), 'tomcat down for 3.5 s, coming back: 1 of 2 passing probes (last failure: connection refused)')
  t.equal(why(''), 'waiting for the first passing tomcat probe')
  t.equal(why('ff'), 'waiting for the first passing tomcat probe (2 failed so far: connection refused)')
  t.equal(why('p'), 'waiting for the first passing tomcat probe (1 of 2 passing probes)')
  t.equal(why('pp', 'running'), 'warming tomcat up: 3 of 10 requests done, 0 failed')
  t.equal(why('pp', 'pending'), 'tomcat is up; its warm-up has not started yet')
  t.equal(why('pp', 'failed'), 'tomcat warm-up failed: 2 of 3 requests failed (at most 1 allowed), last: GET /app/x: HTTP 500')
  const longDown = factsAfter('f'.repeat(20), 'pending')
  t.equal(
    decide({ admin: { state: 'drain' }, stateFileProblem: null, tomcat: longDown.facts, now: longDown.now }).why,
    'tomcat probe failing for 20 s (20 in a row): connection refused',
  )
})

t.test('a return from drain or down answers the state being left until fresh probes pass, after every Tomcat hold', async (t) => {
  const cases: Array<[string, WarmupPhase, 'drain' | 'down', number, string]> = [
    // Up and warm: held at the state left (404 for drain, 500 for down), saying how far it is.
    ['pp', 'passed', 'drain', 0, 'returning'],
    ['pp', 'passed', 'drain', 1, 'returning'],
    ['pp', 'passed', 'down', 1, 'returning'],
    // A Tomcat that is down, coming back or warming up holds first: 500 whatever was left.
    ['ppfff', 'passed', 'drain', 0, 'tomcat-down'],
    ['ppfffpp', 'running', 'drain', 0, 'warmup'],
  ]
  for (const [history, phase, from, passes, cause] of cases) {
    const { facts, now } = factsAfter(history, phase)
    const verdict = decide({ admin: { state: 'ready' }, stateFileProblem: null, tomcat: { ...facts, returning: { from, passes } }, now })
    const state = cause === 'returning' ? from : 'down'
    t.match(
      verdict,
      { state, httpStatus: HTTP_STATUS_OF[state], cause, why: String },
      `probes "${history}", warm-up ${phase}, back from ${from} after ${passes} fresh passes: ${state} (${cause})`,
    )
    if (cause === 'returning')
      t.equal(verdict.why, `back to ready from ${from}: ${passes} of ${RISE} passing probes begun since (Tomcat may have restarted)`)
  }
  const { facts, now } = factsAfter('pp', 'passed')
  t.equal(
    decide({ admin: { state: 'ready' }, stateFileProblem: null, tomcat: { ...facts, returning: null }, now }).httpStatus,
    200,
    'no return pending: the admin state',
  )
})
