import { Registry } from 'prom-client'
import t from 'tap'
import { LbMetrics, MAX_LABELLED_LB_VIEWS } from '../../src/lb/metrics.js'
import { LbViews } from '../../src/lb/views.js'

const header = (node: string, status = 'UP', scur = 0) =>
  `${status}; address=127.0.0.1; port=8080; name=be/t1; node=${node}; weight=1/2; scur=${scur}/${scur}; qcur=0`

/** Series of the per-LB metrics in a scrape. */
async function lbSeries(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((l) => /^health_agent_lb_(last_check_age_seconds|status|scur)\{/.test(l))
}

t.test('a flood of invented load balancers: the per-LB series stay bounded, the real ones keep their labels', async (t) => {
  const registry = new Registry()
  const views = new LbViews({ maxViews: 10_000, forgetAfterMs: 60_000 })
  new LbMetrics(registry, views)
  const now = Date.now()
  // Two real load balancers that have been checking for a while.
  for (let i = 0; i < 20; i++) {
    views.record(header('lb1', 'NOLB', 2), '10.0.0.1', 404, now - 40_000 + i * 2000)
    views.record(header('lb2', 'UP', 3), '10.0.0.2', 404, now - 40_000 + i * 2000)
  }
  for (let i = 0; i < 50_000; i++) {
    views.record(header(`bomb${i}`, 'UP', 1), '10.9.9.9', 404, now)
    // The real ones go on checking during the flood.
    if (i % 1000 === 999) {
      views.record(header('lb1', 'NOLB', 2), '10.0.0.1', 404, now)
      views.record(header('lb2', 'UP', 3), '10.0.0.2', 404, now)
    }
  }
  const series = await lbSeries(registry)
  const bound = (MAX_LABELLED_LB_VIEWS + 1) * (1 + 4 + 1)
  t.comment(`after 50,000 invented nodes: ${views.size} views, ${series.length} per-LB series (bound ${bound})`)
  t.ok(series.length <= bound, `${series.length} series`)
  t.ok(series.includes('health_agent_lb_status{lb="lb1",server="be/t1",status="NOLB"} 1'), 'lb1 keeps its label')
  t.ok(series.includes('health_agent_lb_scur{lb="lb2",server="be/t1"} 3'), 'lb2 keeps its label')
  const others = views.size - MAX_LABELLED_LB_VIEWS
  t.ok(
    series.includes(`health_agent_lb_status{lb="_other",server="_other",status="UP"} ${others}`),
    `the rest (${others}) are counted under _other`,
  )
  t.ok(series.includes(`health_agent_lb_scur{lb="_other",server="_other"} ${others}`), 'and their sessions added up')
})

t.test('up to the cap, every view has its own series and there is no _other', async (t) => {
  const registry = new Registry()
  const views = new LbViews({ maxViews: 10_000, forgetAfterMs: 60_000 })
  new LbMetrics(registry, views)
  for (let i = 0; i < MAX_LABELLED_LB_VIEWS; i++) views.record(header(`lb${i}`), '10.0.0.1', 200)
  const series = await lbSeries(registry)
  t.equal(series.length, MAX_LABELLED_LB_VIEWS * 6)
  t.notOk(series.some((l) => l.includes('_other')))
})
