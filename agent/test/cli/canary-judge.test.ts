import t from 'tap'
import { judge, quantile, windowOf, type CanaryLimits } from '../../src/cli/canary-judge.js'
import type { Traffic } from '../../src/protocol/traffic.js'

const LIMITS: CanaryLimits = { max5xxRatio: 0.01, maxP99Ms: 100, minRequests: 100 }

function traffic(deploy: string, ok: number, failed: number, buckets: Array<[number, number]>): Traffic {
  const count = ok + failed
  return {
    enabled: true,
    at: '2026-11-30T05:00:00Z',
    deploy,
    responses: { '2xx': ok, '5xx': failed },
    duration: { count, sumSeconds: 0, buckets: buckets.map(([le, c]) => ({ le, count: c })) },
    errors: {},
  }
}

t.test('quantile: linear within the bucket, Infinity above the largest, null with nothing', async (t) => {
  const b = [
    { le: 0.01, count: 50 },
    { le: 0.1, count: 100 },
  ]
  t.equal(quantile(b, 100, 0.5), 0.01)
  t.ok(Math.abs((quantile(b, 100, 0.99) as number) - 0.0982) < 1e-9)
  t.equal(quantile(b, 200, 0.99), Infinity)
  t.equal(quantile(b, 0, 0.99), null)
})

t.test('the window is the difference of two documents of one deploy', async (t) => {
  const start = traffic('a', 1000, 10, [
    [0.05, 900],
    [0.1, 1010],
  ])
  const now = traffic('a', 1190, 20, [
    [0.05, 1000],
    [0.1, 1210],
  ])
  t.same(windowOf(start, now), { requests: 200, errors5xx: 10, ratio5xx: 0.05, p99Ms: windowOf(start, now)?.p99Ms })
  t.ok(Math.abs((windowOf(start, now)?.p99Ms as number) - 99) < 1e-6, 'p99 from the bucket differences only')
  t.equal(windowOf(start, traffic('b', 0, 0, [])), null, 'another deploy: Tomcat restarted')
})

t.test('judge', async (t) => {
  const w = (requests: number, errors5xx: number, p99Ms: number | null) => ({
    requests,
    errors5xx,
    ratio5xx: requests ? errors5xx / requests : 0,
    p99Ms,
  })
  t.match(judge(w(50, 50, 5000), LIMITS, false), { verdict: 'watching' }, 'too few requests to judge yet: limits wait')
  t.match(
    judge(w(100, 2, 10), LIMITS, false),
    { verdict: 'fail', limit: 'max-5xx-ratio', why: /2\.00% \(2 of 100\) above the limit 1\.00%/ },
    'a broken limit fails before the end',
  )
  t.match(judge(w(100, 1, 10), LIMITS, false), { verdict: 'watching' }, 'at the limit is within it')
  t.match(judge(w(100, 0, 101), LIMITS, false), { verdict: 'fail', limit: 'max-p99-ms', why: /101 ms above the limit 100 ms/ })
  t.match(judge(w(100, 0, Infinity), LIMITS, false), { verdict: 'fail', limit: 'max-p99-ms', why: /above the largest bucket/ })
  t.match(judge(w(100, 0, 10), LIMITS, true), { verdict: 'pass' })
  t.match(judge(w(99, 0, 10), LIMITS, true), { verdict: 'fail', limit: 'min-requests', why: /only 99 requests, fewer than the 100/ })
  t.match(judge(null, LIMITS, false), { verdict: 'fail', limit: 'restarted' })
})
