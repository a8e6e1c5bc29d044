import t from 'tap'
import { LbViews, normalizeAddress, SOURCE_REFRESH_MS } from '../../src/lb/views.js'

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

t.test(
  "a send-state view reads its checker's address when it is made and then at most every SOURCE_REFRESH_MS; a plain view on every check",
  async (t) => {
    const views = new LbViews({ maxViews: 100, forgetAfterMs: 60_000 })
    const reads: string[] = []
    // A socket's remoteAddress is a getter (a getpeername call): count the reads.
    const from = (address: string) => ({
      get remoteAddress() {
        reads.push(address)
        return address
      },
    })
    views.record(header('lb1'), from('10.0.0.1'), 200, 1000)
    views.record(header('lb1'), from('10.0.0.2'), 200, 1000 + SOURCE_REFRESH_MS - 1)
    t.same(reads, ['10.0.0.1'], 'not read again within SOURCE_REFRESH_MS')
    t.match(views.list(1000 + SOURCE_REFRESH_MS), [{ node: 'lb1', source: '10.0.0.1' }])
    views.record(header('lb1'), from('10.0.0.2'), 200, 1000 + SOURCE_REFRESH_MS)
    t.match(views.list(1000 + SOURCE_REFRESH_MS), [{ node: 'lb1', source: '10.0.0.2', checks: 3 }], 'then it is')
    views.record(undefined, from('10.0.0.9'), 200, 2000)
    views.record(undefined, from('10.0.0.9'), 200, 2001)
    t.same(reads.slice(2), ['10.0.0.9', '10.0.0.9'], 'the address keys a plain view: read on every check')
  },
)

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

t.test('every check is announced to listeners', async (t) => {
  const views = new LbViews({ maxViews: 10, forgetAfterMs: 10_000 })
  const seen: string[] = []
  views.on('check', (v) => seen.push(`${v.node}:${v.answered}`))
  views.record(header('lb1'), '127.0.0.1', 404)
  t.same(seen, ['lb1:404'])
})

t.test('each view learns its cadence: a moving average of the time between its checks', async (t) => {
  const views = new LbViews({ maxViews: 100, forgetAfterMs: 600_000 })
  t.equal(views.record(undefined, '10.0.0.9', 200, 1000).cadenceMs, null, 'one check: no cadence')
  t.equal(views.record(undefined, '10.0.0.9', 200, 3000).cadenceMs, 2000)
  t.equal(views.record(undefined, '10.0.0.9', 200, 5000).cadenceMs, 2000)
  t.equal(views.record(undefined, '10.0.0.9', 200, 6000).cadenceMs, 1750, 'a shorter gap pulls it down a quarter of the way')
})
