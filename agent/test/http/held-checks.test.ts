import { EventEmitter } from 'node:events'
import t from 'tap'
import { HeldChecks } from '../../src/http/held-checks.js'

t.test('a held check is answered once: by its hold, a release or not at all when its connection closes', async (t) => {
  const held = new HeldChecks()
  const answers: string[] = []
  const cuts: number[] = []
  const released = new EventEmitter()
  held.hold(released, 60_000, () => answers.push('released'))
  const cut = new EventEmitter()
  held.hold(
    cut,
    60_000,
    () => answers.push('cut'),
    (ms) => cuts.push(ms),
  )
  t.equal(held.size, 2)
  cut.emit('close')
  t.equal(cuts.length, 1, 'the hang-up is reported')
  held.releaseAll()
  held.releaseAll()
  released.emit('close')
  t.same(answers, ['released'], 'the released check answered once, the cut one never')
  t.equal(held.size, 0)

  const timed = new EventEmitter()
  await new Promise<void>((resolve) => held.hold(timed, 20, resolve))
  t.equal(held.size, 0, 'answered when its hold ran out')
})

t.test('once closed, nothing is held: the held checks are answered, and new ones at once', async (t) => {
  const held = new HeldChecks()
  const answers: string[] = []
  held.hold(new EventEmitter(), 60_000, () => answers.push('before'))
  held.close()
  t.same(answers, ['before'])
  held.hold(new EventEmitter(), 60_000, () => answers.push('after'))
  t.same(answers, ['before', 'after'], 'a check that comes while the listener closes is not held')
  t.equal(held.size, 0)
})
