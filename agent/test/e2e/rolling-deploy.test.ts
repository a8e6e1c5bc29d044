import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/agent.js'
import { LoadGenerator, type LoadReport } from '../helpers/load.js'
import { waitFor } from '../helpers/wait.js'
import { rollingDeploy, startStack, startTomcatDaemon, stopTomcatDaemon, versionOfBody, writeAppWar, SLOW_MS, type Stack } from './stack.js'

/**
 * The mission's promise, against the real thing: Debian's HAProxy in front of three Debian
 * Tomcat 10 instances, each with its agent, under load the whole time, with a backend that hides
 * no failure (retries 0, no redispatch, no L7 retry-on).
 *   1. v2 of the first host fails to start: the roll stops there, the host is rolled back to v1,
 *      the others are untouched; no request fails.
 *   2. rolling-deploy replaces v1 with v2 everywhere: no request fails, HAProxy counts no error.
 *   3. Negative control: the same Tomcats restarted without the agent's drain: requests fail,
 *      so the assertions above can see a failure.
 */

const MIN_REQUESTS = 3000
const DEPLOY_ARGS = ['--drain-timeout', '60', '--down-timeout', '30', '--ready-timeout', '120']

function load(stack: Stack): LoadGenerator {
  return new LoadGenerator({
    url: stack.frontendUrl,
    clients: 8,
    slowEvery: 5,
    slowPath: '/app/slow.jsp',
    maxRequests: 200_000,
    maxSeconds: 400,
    versionOf: versionOfBody,
  })
}

async function runUntil(generator: LoadGenerator, minRequests: number): Promise<LoadReport> {
  await waitFor(`${minRequests} requests through HAProxy`, () => generator.report.requests >= minRequests, { timeoutMs: 120_000, intervalMs: 50 })
  return generator.stop()
}

function describeFailures(report: LoadReport): string {
  return report.failures.map((f) => `${f.at.toFixed(2)}s ${f.path}: ${f.error}`).join('\n')
}

t.test('rolling deploy of three real Tomcats behind a real HAProxy with zero failed requests', async (t) => {
  const dir = tempDir(t, 'health-agent-e2e-')
  const v1 = writeAppWar(dir, 'v1')
  const v2 = writeAppWar(dir, 'v2')
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
  t.same(await Promise.all(stack.hosts.map((h) => stack.versionOf(h))), ['v1', 'v1', 'v1'], 'the first host serves v1 again, the others never stopped')
  t.same([second, third].map((h) => readFileSync(join(h.tomcat.base, 'webapps/app.war'))), untouched, 'the other hosts were not touched')
  t.ok(!existsSync(join(second.tomcat.base, 'deploy-history')) || readdirSync(join(second.tomcat.base, 'deploy-history')).length === 0)
  await waitFor('the first host UP again in HAProxy', async () => (await stack.serverStatus(first)) === 'UP')
  t.equal(failingReport.failed, 0, `no failed request while a host failed and was rolled back\n${describeFailures(failingReport)}`)
  t.equal(failingReport.unexpectedVersions, 0, 'only v1 was ever served')
  t.comment(`rollback scenario: ${failingReport.requests} requests, ${failingReport.failed} failed, ${failing.seconds.toFixed(1)} s`)

  // 2. The real roll, v1 -> v2, under load from before it starts until after it ends.
  const rollLoad = load(stack)
  rollLoad.start(['v1', 'v2'])
  await waitFor('load running', () => rollLoad.report.ok >= 200, { timeoutMs: 30_000 })
  const perHost: string[] = []
  const roll = await rollingDeploy(inventory, v2, DEPLOY_ARGS, (line) => {
    const done = /host (\d)\/3 (\S+): deployed in ([\d.]+) s/.exec(line)
    if (done) perHost.push(`${done[2]}=${done[3]}s`)
  })
  const report = await runUntil(rollLoad, MIN_REQUESTS)
  const counters = await stack.backendCounters()
  const versions = await Promise.all(stack.hosts.map((h) => stack.versionOf(h)))
  t.equal(roll.code, 0, `rolling-deploy succeeds\n${roll.output}`)
  t.same(versions, ['v2', 'v2', 'v2'], 'every Tomcat serves v2')
  t.ok(report.requests >= MIN_REQUESTS, `at least ${MIN_REQUESTS} requests (${report.requests})`)
  t.equal(report.failed, 0, `no failed request at the client\n${describeFailures(report)}`)
  t.equal(report.unexpectedVersions, 0, 'every response was v1 or v2')
  t.ok((report.versions.v1 ?? 0) > 0 && (report.versions.v2 ?? 0) > 0, `both versions served during the roll (${JSON.stringify(report.versions)})`)
  t.same(counters, { eresp: 0, wretr: 0, wredis: 0 }, 'HAProxy counted no response error, retry or redispatch')
  t.comment(`roll: ${roll.seconds.toFixed(1)} s in all; per host: ${perHost.join(' ')}; slow requests ${SLOW_MS} ms`)

  // 3. Negative control: restart each Tomcat without draining; the agent keeps saying ready.
  const naiveLoad = load(stack)
  naiveLoad.start(['v2'])
  await waitFor('load running', () => naiveLoad.report.ok >= 200, { timeoutMs: 30_000 })
  for (const host of stack.hosts) {
    await stopTomcatDaemon(host)
    await startTomcatDaemon(host)
    await waitFor(`${host.name} back UP in HAProxy`, async () => (await stack.serverStatus(host)) === 'UP', { timeoutMs: 90_000, intervalMs: 100 })
  }
  const naive = await naiveLoad.stop()
  t.ok(naive.failed > 0, `the same restarts without a drain fail requests (${naive.failed} of ${naive.requests}): the test can see a failure`)

  process.stderr.write(
    `e2e: requests=${report.requests} failed=${report.failed} eresp=${counters.eresp} wretr=${counters.wretr} wredis=${counters.wredis} versions=${versions.join(',')} negative_control_failed=${naive.failed}\n`,
  )
})
