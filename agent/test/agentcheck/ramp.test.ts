import t from 'tap'
import { rampAt, rampSchedule, type RampSettings } from '../../src/agentcheck/ramp.js'

const fourSteps: RampSettings = { startPercent: 10, durationMs: 2000, steps: 4 }

t.test('a ramp is a staircase of whole percentages from the start weight to 100%', async (t) => {
  t.same(rampSchedule(fourSteps), [
    { atMs: 0, percent: 10 },
    { atMs: 500, percent: 33 },
    { atMs: 1000, percent: 55 },
    { atMs: 1500, percent: 78 },
    { atMs: 2000, percent: 100 },
  ])
  t.same(
    rampSchedule({ startPercent: 10, durationMs: 60000, steps: 10 }).map((s) => s.percent),
    [10, 19, 28, 37, 46, 55, 64, 73, 82, 91, 100],
  )
  t.same(rampSchedule({ startPercent: 50, durationMs: 1000, steps: 1 }), [
    { atMs: 0, percent: 50 },
    { atMs: 1000, percent: 100 },
  ])
})

t.test('position at a given time', async (t) => {
  const table: Array<[number, number, number, boolean]> = [
    // elapsed ms, percent, step, done
    [-50, 10, 0, false], // a clock step back never goes below the start
    [0, 10, 0, false],
    [499, 10, 0, false],
    [500, 33, 1, false],
    [1999, 78, 3, false],
    [2000, 100, 4, true],
    [1e9, 100, 4, true],
  ]
  for (const [elapsed, percent, step, done] of table) {
    const p = rampAt(fourSteps, elapsed)
    t.same({ percent: p.percent, step: p.step, done: p.done }, { percent, step, done }, `at ${elapsed} ms`)
  }
  t.equal(rampAt(fourSteps, 1000).progress, 0.5)
})

t.test('no ramp: duration 0 or a start at 100%', async (t) => {
  t.same(rampAt({ startPercent: 10, durationMs: 0, steps: 4 }, 0), { percent: 100, step: 4, steps: 4, progress: 1, done: true })
  t.equal(rampAt({ startPercent: 100, durationMs: 1000, steps: 4 }, 0).percent, 100)
  t.same(rampSchedule({ startPercent: 10, durationMs: 0, steps: 4 }), [{ atMs: 0, percent: 100 }])
})

t.test('every schedule rises, never exceeds 100 and ends there', async (t) => {
  for (const startPercent of [1, 10, 33, 99]) {
    for (const steps of [1, 2, 3, 7, 10, 100]) {
      const percents = rampSchedule({ startPercent, durationMs: 60000, steps }).map((s) => s.percent)
      const rising = percents.every((p, i) => i === 0 || p > (percents[i - 1] as number) || steps > 100 - startPercent)
      t.ok(
        rising && percents.at(-1) === 100 && percents[0] === startPercent && Math.max(...percents) === 100,
        `start ${startPercent}%, ${steps} steps: ${percents.join(' ')}`,
      )
    }
  }
})
