import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/agent.js'
import { describeFailures, type LoadGenerator } from '../helpers/load.js'
import { waitFor } from '../helpers/wait.js'
import { ROLLS, runCase, type MatrixRow } from './roll-matrix.js'
import { rollingDeploy, stackLoad, startStack, startTomcatDaemon, stopTomcatDaemon, writeAppWar, type Stack } from './stack.js'

/**
 * The mission's promise, against the real thing, on the defaults: Debian's HAProxy with the
 * backend haproxy-snippets/httpchk-backend.cfg recommends, in front of three Debian Tomcat 10
 * instances, each with its agent given only its URLs, under load the whole time. A retry that hid
 * a failure is still seen: HAProxy's econ, eresp, wretr and wredis must stay at 0.
 *   1. v2 of the first host fails to start: the roll stops there, the host is rolled back to v1,
 *      the others are untouched; no request fails.
 *   2. The matrix (roll-matrix.ts): every way an operator rolls, (a) to (g), each a full roll of
 *      the three hosts to the next version with no failed request and no HAProxy error.
 *   3. Negative control: the same Tomcats restarted without the agent's drain: requests fail,
 *      so the assertions above can see a failure.
 */

const DEPLOY_ARGS = ['--drain-timeout', '60', '--down-timeout', '30', '--ready-timeout', '120']

function load(stack: Stack): LoadGenerator {
  return stackLoad(stack)
}

t.test('every way to roll three real Tomcats behind a real HAProxy, on the defaults, with zero failed requests', async (t) => {
  const dir = tempDir(t, 'health-agent-e2e-')
  const v1 = writeAppWar(dir, 'v1')
  const v2Broken = writeAppWar(dir, 'v2', { broken: true })
  const stack = await startStack(t, dir, { war: v1 })
  const inventory = stack.writeInventory(join(dir, 'inventory'))
  const [first, second, third] = stack.hosts as [Stack['hosts'][0], Stack['hosts'][0], Stack['hosts'][0]]

  // 1. A version that does not start: rolled back, the roll stops at the first host.
  const untouched = [second, third].map((h) => readFileSync(join(h.tomcat.base, 'webapps/app.war')))
  const failingLoad = load(stack)
  failingLoad.start(['v1'])
  const failing = await rollingDeploy(inventory, v2Broken, [...DEPLOY_ARGS.slice(0, 4), '--ready-timeout', '20'])
  const failingReport = await failingLoad.stop()
  t.equal(failing.code, 3, `the roll reports the rollback (exit 3)\n${failing.output}`)
  t.match(failing.output, /t1 +rolled back \(new version failed\)/)
  t.match(failing.output, /t2 +not started \(untouched\)/)
  t.match(failing.output, /t3 +not started \(untouched\)/)
  t.same(
    await Promise.all(stack.hosts.map((h) => stack.versionOf(h))),
    ['v1', 'v1', 'v1'],
    'the first host serves v1 again, the others never stopped',
  )
  t.same(
    [second, third].map((h) => readFileSync(join(h.tomcat.base, 'webapps/app.war'))),
    untouched,
    'the other hosts were not touched',
  )
  t.ok(!existsSync(join(second.tomcat.base, 'deploy-history')) || readdirSync(join(second.tomcat.base, 'deploy-history')).length === 0)
  await waitFor('the first host UP again in HAProxy', async () => (await stack.serverStatus(first)) === 'UP')
  t.equal(failingReport.failed, 0, `no failed request while a host failed and was rolled back\n${describeFailures(failingReport)}`)
  t.equal(failingReport.unexpectedVersions, 0, 'only v1 was ever served')
  t.comment(`rollback scenario: ${failingReport.requests} requests, ${failingReport.failed} failed, ${failing.seconds.toFixed(1)} s`)

  // 2. The matrix: every way an operator rolls, one after the other on the same stack, each
  //    replacing the version the previous one left, under load from before it starts until after.
  const rows: MatrixRow[] = []
  let from = 'v1'
  for (const [index, roll] of ROLLS.entries()) {
    const to = `v${index + 2}`
    const war = writeAppWar(dir, to)
    rows.push(await runCase(t, stack, inventory, roll, from, to, war))
    from = to
  }
  const drains = rows.flatMap((r) => r.drains)
  process.stderr.write(
    `matrix: ${rows.map((r) => `${r.id}:${r.name}=${r.requests}/${r.failed}`).join(' ')} (requests/failed; econ, eresp, wretr, wredis 0 in every case)\n`,
  )
  process.stderr.write(
    `matrix: times ${rows.map((r) => `${r.id}=${r.seconds.toFixed(1)}s`).join(' ')}${
      rows.some((r) => r.note)
        ? `; ${rows
            .filter((r) => r.note)
            .map((r) => `${r.id}: ${r.note}`)
            .join('; ')}`
        : ''
    }\n`,
  )
  if (drains.length > 0) {
    process.stderr.write(
      `drain after a stray request: ${drains.map((d) => `${d.host} agentctl drain --wait ${d.waitS.toFixed(2)} s, HAProxy NOLB+scur0 at ${d.haproxyS === null ? 'never seen' : `${d.haproxyS.toFixed(2)} s`}`).join('; ')}\n`,
    )
  }

  // 3. Negative control: restart each Tomcat without draining; the agent keeps saying ready.
  const naiveBefore = await stack.backendCounters()
  const naiveLoad = load(stack)
  naiveLoad.start([from])
  await waitFor('load running', () => naiveLoad.report.ok >= 200, { timeoutMs: 30_000 })
  for (const host of stack.hosts) {
    await stopTomcatDaemon(host)
    await startTomcatDaemon(host)
    await waitFor(`${host.name} back UP in HAProxy`, async () => (await stack.serverStatus(host)) === 'UP', {
      timeoutMs: 90_000,
      intervalMs: 100,
    })
  }
  const naive = await naiveLoad.stop()
  const naiveAfter = await stack.backendCounters()
  const hidden = (['econ', 'eresp', 'wretr', 'wredis'] as const).map((k) => `${k}=${naiveAfter[k] - naiveBefore[k]}`).join(' ')
  const seen = naive.failed + (['econ', 'eresp', 'wretr', 'wredis'] as const).reduce((n, k) => n + naiveAfter[k] - naiveBefore[k], 0)
  t.ok(
    naive.failed > 0,
    `the same restarts without a drain fail requests at the client (${naive.failed} of ${naive.requests}; HAProxy ${hidden}): the test can see a failure`,
  )
  t.ok(seen > 0, 'and the assertions of the matrix see them')

  const failed = rows.reduce((n, r) => n + r.failed, 0)
  const requests = rows.reduce((n, r) => n + r.requests, 0)
  process.stderr.write(
    `e2e: requests=${requests} failed=${failed} versions=${from} negative_control_failed=${naive.failed} negative_control_haproxy: ${hidden}\n`,
  )
})
