import t from 'tap'
import { holdCapAfterCut, holdMs, MAX_HOLD_HEADER_MS, MIN_USEFUL_HOLD_MS, parseHoldHeader, settledOn } from '../../src/lb/hold.js'
import { parseServerState, type ServerState } from '../../src/lb/send-state.js'

function state(head: string, scur = 0): ServerState {
  const parsed = parseServerState(`${head}; address=127.0.0.1; port=8080; name=be/t1; node=lb1; weight=1/3; scur=${scur}/${scur}; qcur=0`)
  if (!parsed) throw new Error(`bad test header ${head}`)
  return parsed
}

t.test('the header: milliseconds, with or without a unit; anything else is not a request to hold', async (t) => {
  const cases: Array<[string | string[] | undefined, number | null]> = [
    ['1000', 1000],
    ['1000ms', 1000],
    [' 2s ', 2000],
    ['1S', 1000],
    [['750', '5000'], 750],
    [String(MAX_HOLD_HEADER_MS), MAX_HOLD_HEADER_MS],
    [String(MAX_HOLD_HEADER_MS + 1), null],
    ['0', null],
    ['-5', null],
    ['1.5s', null],
    ['soon', null],
    ['', null],
    ['1'.repeat(40), null],
    [undefined, null],
  ]
  for (const [value, expected] of cases) t.equal(parseHoldHeader(value), expected, JSON.stringify(value))
})

t.test('settled: the load balancer shows what the answer tells it and counts nothing', async (t) => {
  const cases: Array<[string, number, boolean]> = [
    ['UP', 200, true],
    ['UP', 404, false],
    ['UP', 500, false],
    ['UP 2/3', 200, false],
    ['UP 1/2', 500, false],
    ['NOLB', 404, true],
    ['NOLB', 200, false],
    ['NOLB', 500, false],
    ['DOWN', 500, true],
    ['DOWN', 404, true],
    ['DOWN', 200, false],
    ['DOWN 1/2', 200, false],
    ['DOWN 1/2', 500, false],
    ['no check', 200, false],
  ]
  for (const [head, status, expected] of cases) t.equal(settledOn(state(head), status), expected, `${head} answered ${status}`)
})

t.test('hold only when asked, allowed, settled and no wait needs the next view', async (t) => {
  const base = { requestedMs: 1000, maxMs: 1000, capMs: null, state: state('UP'), httpStatus: 200, wantedSoon: false }
  t.equal(holdMs(base), 1000)
  t.equal(holdMs({ ...base, requestedMs: 400 }), 400, 'the shorter of the two')
  t.equal(holdMs({ ...base, requestedMs: 5000 }), 1000, "the agent's limit wins")
  t.equal(holdMs({ ...base, requestedMs: null }), 0, 'not asked')
  t.equal(holdMs({ ...base, maxMs: 0 }), 0, 'holding turned off')
  t.equal(holdMs({ ...base, state: null }), 0, 'a checker without send-state')
  t.equal(holdMs({ ...base, httpStatus: 404 }), 0, 'a drain to tell')
  t.equal(holdMs({ ...base, state: state('NOLB', 3), httpStatus: 404, wantedSoon: true }), 0, 'a drain wait wants the sessions again')
  t.equal(holdMs({ ...base, state: state('NOLB', 3), httpStatus: 404 }), 1000, 'no wait: a draining server is held too')
  t.equal(holdMs({ ...base, capMs: 300 }), 300, "the load balancer's own limit, once learnt, wins")
  t.equal(holdMs({ ...base, capMs: 0 }), 0, 'a limit of 0 answers at once')
})

t.test('a load balancer that hangs up on a held check gets half that hold from then on, and never more', async (t) => {
  t.equal(holdCapAfterCut(600, null), 300)
  t.equal(holdCapAfterCut(990, 300), 300, 'a later, longer cut does not raise it')
  t.equal(holdCapAfterCut(400, 300), 200)
  t.equal(holdCapAfterCut(150, null), 0, `under ${MIN_USEFUL_HOLD_MS} ms a hold is not worth it`)
})
