import t from 'tap'
import { INITIAL_TRACK, advance, type Liveness, type ProbeTrack } from '../../src/tomcat/liveness.js'

function fold(history: string, fall: number, rise: number): ProbeTrack {
  let track = INITIAL_TRACK
  ;[...history].forEach((c, i) => {
    track = advance(track, { ok: c === 'p', at: i * 100, error: c === 'p' ? null : `failure ${i}` }, { fall, rise })
  })
  return track
}

t.test('rise/fall hysteresis', async (t) => {
  const cases: Array<[string, number, number, Liveness]> = [
    ['', 3, 2, 'unknown'],
    ['p', 3, 2, 'unknown'],
    ['p', 3, 1, 'up'],
    ['pp', 3, 2, 'up'],
    ['ff', 3, 2, 'unknown'],
    ['fff', 3, 2, 'down'],
    ['f', 1, 2, 'down'],
    ['ppff', 3, 2, 'up'],
    ['ppfff', 3, 2, 'down'],
    ['ppfffp', 3, 2, 'down'],
    ['ppfffpfp', 3, 2, 'down'],
    ['ppfffpp', 3, 2, 'up'],
    ['pfpfpfpf', 2, 2, 'unknown'],
    ['ppfpfpfpf', 2, 2, 'up'],
  ]
  for (const [history, fall, rise, liveness] of cases) {
    t.equal(fold(history, fall, rise).liveness, liveness, `"${history}" fall ${fall} rise ${rise}`)
  }
})

t.test('since is the start of the run that decided the liveness; counts and last error follow', async (t) => {
  const down = fold('ppfff', 3, 2)
  t.match(down, { liveness: 'down', since: 200, failures: 3, passes: 0, lastError: 'failure 4' })
  const back = fold('ppfffpp', 3, 2)
  t.match(back, { liveness: 'up', since: 500, passes: 2, failures: 0, lastError: 'failure 4' })
  const recovering = fold('ppfffp', 3, 2)
  t.match(recovering, { liveness: 'down', since: 200, passes: 1, runStart: 500 })
})
