import t from 'tap'
import { LbViews, normalizeAddress, type Refusal } from '../../src/lb/views.js'
import { sourceFilter } from '../../src/lb/sources.js'

const header = (node: string, name = 'be/s1', status = 'UP', scur = 0) =>
  `${status}; address=127.0.0.1; port=8080; name=${name}; node=${node}; weight=1/1; scur=${scur}/${scur}; qcur=0`

t.test('a view per (node, backend/server), and per source address without send-state', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000 })
  views.record(header('lb1'), '127.0.0.1', 200, 1000)
  views.record(header('lb1', 'be/s1', 'NOLB', 2), '127.0.0.1', 404, 2000)
  views.record(header('lb1', 'other/s1'), '127.0.0.1', 404, 2100)
  views.record(header('lb2'), '::ffff:10.0.0.2', 404, 2200)
  views.record(undefined, '::ffff:10.0.0.9', 404, 2300)
  views.record(undefined, '10.0.0.9', 404, 2400)
  const list = views.list(3000)
  t.equal(list.length, 4)
  t.match(list[0], {
    kind: 'send-state',
    node: 'lb1',
    name: 'be/s1',
    answered: 404,
    lastCheckAt: 2000,
    firstSeenAt: 1000,
    checks: 2,
    state: { status: 'NOLB', scur: { server: 2 } },
  })
  t.match(list[1], { node: 'lb1', name: 'other/s1' })
  t.match(list[2], { node: 'lb2', source: '10.0.0.2' })
  t.match(list[3], { kind: 'plain', node: null, name: null, source: '10.0.0.9', checks: 2, state: null })
  t.equal(normalizeAddress('::1'), '::1')
  t.equal(normalizeAddress(undefined), 'unknown')
})

t.test("a view's source is always the current check's, read on every check", async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000 })
  views.record(header('lb1'), { remoteAddress: '10.0.0.1' }, 200, 1000)
  views.record(header('lb1'), { remoteAddress: '::ffff:10.0.0.1' }, 200, 1001)
  t.match(views.list(1001), [{ node: 'lb1', source: '10.0.0.1', checks: 2 }])
})

t.test('a node is bound to the address it was first seen from: a claim from elsewhere is refused, counted and announced', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000 })
  const refusals: Refusal[] = []
  views.on('refused', (r) => refusals.push(r))
  views.record(header('lb1', 'be/s1', 'UP', 5), '10.0.0.1', 404, 1000)
  const forged = views.record(header('lb1', 'be/s1', 'NOLB', 0), '10.0.0.66', 404, 1100)
  t.equal(forged, null, 'not kept')
  t.equal(views.record(header('lb1', 'other/s1', 'NOLB', 0), '10.0.0.66', 404, 1100), null, 'not for another backend either')
  t.match(views.list(1200), [{ node: 'lb1', source: '10.0.0.1', state: { status: 'UP', scur: { server: 5 } }, checks: 1 }])
  t.equal(views.size, 1)
  t.same(views.refused, { source: 0, 'node-bound': 2, full: 0 })
  t.same(refusals[0], { reason: 'node-bound', node: 'lb1', source: '10.0.0.66', boundTo: '10.0.0.1' })
  t.ok(views.record(header('lb2'), '10.0.0.66', 404, 1300), 'a node of its own is its own')
  t.ok(views.record(header('lb3'), '10.0.0.1', 404, 1300), 'an HA pair behind NAT: two nodes from one address')

  // Once lb1 has been silent for forgetAfterMs, it may come back from a new address (a re-IP).
  views.record(header('lb2'), '10.0.0.66', 404, 61_500)
  t.ok(views.record(header('lb1'), '10.0.0.7', 404, 61_500), 'rebound after it was forgotten')
  t.equal(views.record(header('lb1'), '10.0.0.1', 404, 61_600), null, 'and now its old address is the stranger')
})

t.test('--lb-sources: a check from outside is refused (its checker still gets the answer: record returns null)', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000, sources: sourceFilter(['10.0.0.0/24', 'fd00::/64']) })
  t.ok(views.record(header('lb1'), '::ffff:10.0.0.5', 404, 1000))
  t.ok(views.record(undefined, 'fd00::9', 404, 1000))
  t.equal(views.record(header('lb9'), '10.0.1.5', 404, 1000), null)
  t.equal(views.record(undefined, '127.0.0.1', 404, 1000), null, 'a plain checker too')
  t.equal(views.record(undefined, undefined, 404, 1000), null, 'an unknown address is outside')
  t.same(views.refused, { source: 3, 'node-bound': 0, full: 0 })
  t.same(
    views.list(1000).map((v) => v.node ?? v.source),
    ['lb1', 'fd00::9'],
  )
})

t.test('a header that does not parse is counted and its checker kept as one without send-state', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000 })
  views.record('garbage; node=lb1', '127.0.0.1', 200, 1000)
  views.record(['also garbage'], '127.0.0.1', 200, 1000)
  t.equal(views.invalidHeaders, 2)
  t.match(views.list(1000), [{ kind: 'plain', source: '127.0.0.1', checks: 2 }])
})

t.test('memory is bounded: the longest silent views are dropped first, silent ones forgotten', async (t) => {
  const views = new LbViews({ maxViews: 3, forgetAfterMs: 10_000 })
  for (const [i, node] of ['a', 'b', 'c'].entries()) views.record(header(node), '127.0.0.1', 200, 1000 + i)
  views.record(header('a'), '127.0.0.1', 200, 1010) // a checks again: now b is the longest silent
  views.record(header('d'), '127.0.0.1', 200, 1020)
  t.same(
    views.list(1020).map((v) => v.node),
    ['c', 'a', 'd'],
  )
  t.equal(views.evicted, 1)

  t.same(
    views.list(11_005).map((v) => v.node),
    ['a', 'd'],
    'c, silent for over 10 s, is forgotten',
  )
  views.record(header('e'), '127.0.0.1', 200, 11_015)
  t.same(
    views.list(11_015).map((v) => v.node),
    ['d', 'e'],
    'forgetting makes room before evicting',
  )
  t.equal(views.evicted, 1)

  for (let i = 0; i < 10_000; i++) views.record(header(`n${i}`), '127.0.0.1', 200, 20_000 + i)
  t.equal(views.size, 3, 'a flood of distinct names stays capped')
})

t.test('a flood of new names cannot push out load balancers heard from within keepFreshMs: the newcomers are refused', async (t) => {
  const views = new LbViews({ maxViews: 3, forgetAfterMs: 60_000, keepFreshMs: 2000 })
  views.record(header('lb1', 'be/s1', 'UP', 4), '10.0.0.1', 404, 1000)
  for (let i = 0; i < 1000; i++) views.record(header(`forged${i}`, 'be/s1', 'NOLB', 0), '10.0.0.66', 404, 1500 + i)
  t.ok(
    views.list(2500).some((v) => v.node === 'lb1'),
    'lb1 is still there',
  )
  t.equal(views.size, 3)
  t.equal(views.refused.full, 998)
  t.ok(views.record(header('forged-late'), '10.0.0.66', 404, 3100), 'lb1 silent beyond keepFreshMs: room is made')
  t.equal(views.evicted, 1)
})

t.test('every check is announced to listeners', async (t) => {
  const views = new LbViews({ maxViews: 10, forgetAfterMs: 10_000 })
  const seen: string[] = []
  views.on('check', (v) => seen.push(`${v.node}:${v.answered}`))
  views.record(header('lb1'), '127.0.0.1', 404)
  t.same(seen, ['lb1:404'])
})

t.test('each view learns its cadence: a moving average of the time between its checks', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 600_000 })
  t.equal(views.record(undefined, '10.0.0.9', 200, 1000)?.cadenceMs, null, 'one check: no cadence')
  t.equal(views.record(undefined, '10.0.0.9', 200, 3000)?.cadenceMs, 2000)
  t.equal(views.record(undefined, '10.0.0.9', 200, 5000)?.cadenceMs, 2000)
  t.equal(views.record(undefined, '10.0.0.9', 200, 6000)?.cadenceMs, 1750, 'a shorter gap pulls it down a quarter of the way')
})
