import t from 'tap'
import type { AdminState } from '../../src/state/model.js'
import { adminChanged, INITIAL_GATE, probed, watchful, type ReturnGate } from '../../src/tomcat/return-gate.js'

const RISE = 2

/**
 * A history of admin changes and probes, one step (100 ms) each: `R`/`D`/`X` set ready, drain or
 * down; `p`/`f` are probes that began at that step; `o` is a pass that began one step before the
 * change just made (a probe in flight across the change).
 */
function fold(history: string): ReturnGate {
  let gate = INITIAL_GATE
  ;[...history].forEach((c, i) => {
    const at = i * 100
    const state: Record<string, AdminState> = { R: 'ready', D: 'drain', X: 'down' }
    if (state[c]) gate = adminChanged(gate, state[c] as AdminState, at)
    else gate = probed(gate, { ok: c !== 'f', at: c === 'o' ? at - 200 : at }, RISE)
  })
  return gate
}

// [history, returning from (null: no return pending), fresh passes so far, watchful]
const TABLE: Array<[string, 'drain' | 'down' | null, number, boolean]> = [
  // The first state read is no return, whatever it is.
  ['R', null, 0, false],
  ['Rpp', null, 0, false],
  ['D', null, 0, true],
  ['X', null, 0, true],
  // Leaving drain or down for ready: held until rise probes begun after the change pass in a row.
  ['RDR', 'drain', 0, true],
  ['RXR', 'down', 0, true],
  ['RDppR', 'drain', 0, true],
  ['RDRp', 'drain', 1, true],
  ['RDRpp', null, 0, false],
  ['RXRpp', null, 0, false],
  // A probe that began before the change does not count.
  ['RDRo', 'drain', 0, true],
  ['RDRop', 'drain', 1, true],
  // A failure starts the count over.
  ['RDRpf', 'drain', 0, true],
  ['RDRpfp', 'drain', 1, true],
  ['RDRpfpp', null, 0, false],
  // Back to drain while returning: no return pending, watchful again; ready again starts over.
  ['RDRpD', null, 0, true],
  ['RDRpDR', 'drain', 0, true],
  // drain -> down -> ready returns from down.
  ['RDXR', 'down', 0, true],
  // ready -> ready is no change.
  ['RDRppR', null, 0, false],
]

t.test('the return gate: fresh passing probes after leaving drain or down', async (t) => {
  for (const [history, from, passes, isWatchful] of TABLE) {
    const gate = fold(history)
    t.same(
      gate.returning && { from: gate.returning.from, passes: gate.returning.passes },
      from === null ? null : { from, passes },
      `"${history}": returning`,
    )
    t.equal(watchful(gate), isWatchful, `"${history}": watchful ${isWatchful}`)
  }
})

t.test('the return begins when ready is set', async (t) => {
  const gate = adminChanged(adminChanged(INITIAL_GATE, 'drain', 0), 'ready', 5000)
  t.same(gate.returning, { from: 'drain', since: 5000, passes: 0 })
  t.same(probed(gate, { ok: true, at: 4999 }, 1).returning, gate.returning, 'a pass begun a millisecond before does not count')
  t.equal(probed(gate, { ok: true, at: 5000 }, 1).returning, null, 'with rise 1, one pass begun at the change does')
})
