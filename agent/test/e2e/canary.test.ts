import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../helpers/agent.js'
import { ACCESS_LOG_PATTERN } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'
import { rollingDeploy, stackLoad, startStack, writeAppWar, type Stack } from './stack.js'

/**
 * The canary gate against the real stack (HAProxy as the snippets recommend, three Tomcat 10,
 * each agent on its defaults plus its access log), under load the whole time:
 *   (a) a good v2 passes the gate on every host;
 *   (b) a v3 answering 500 to one request in twenty is caught on the first host, rolled back,
 *       and the roll stops with the others untouched;
 *   (c) a v3 three times slower is caught by the latency limit, the same way.
 * In (b) and (c) the only failed requests are the bad version's own answers during the watch:
 * none from the rollback, and HAProxy's econ, eresp, wretr and wredis stay at 0.
 */

const DEPLOY_ARGS = ['--drain-timeout', '60', '--down-timeout', '30', '--ready-timeout', '120']
// v1 and v2 answer one request in five in ~300 ms: their p99 is 300-500 ms; three times slower is 900 ms.
const CANARY_ARGS = ['--canary-for', '15s', '--canary-arg', '--max-p99-ms=700']
const HAPROXY_ERRORS = ['econ', 'eresp', 'wretr', 'wredis'] as const

interface CaseResult {
  id: string
  verdict: string
  requests: number
  failed: number
  seconds: number
}

async function roll(t: Test, stack: Stack, inventory: string, war: string, versions: string[]) {
  const load = stackLoad(stack)
  const before = await stack.backendCounters()
  load.start(versions)
  await waitFor('load running', () => load.report.ok >= 100, { timeoutMs: 30_000 })
  const run = await rollingDeploy(inventory, war, [...DEPLOY_ARGS, ...CANARY_ARGS])
  const report = await load.stop()
  const after = await stack.backendCounters()
  for (const k of HAPROXY_ERRORS) t.equal(after[k] - before[k], 0, `HAProxy ${k} stays 0`)
  const verdicts = [...run.output.matchAll(/canary: (pass|fail [a-z0-9-]+)/g)].map((m) => m[1] as string)
  return { run, report, verdicts }
}

t.test('the canary gate on three real Tomcats behind a real HAProxy, under load', async (t) => {
  const dir = tempDir(t, 'health-agent-canary-')
  const stack = await startStack(t, dir, {
    war: writeAppWar(dir, 'v1'),
    agentArgs: (tomcat) => ['--access-log-file', tomcat.accessLog, '--access-log-pattern', ACCESS_LOG_PATTERN],
  })
  const inventory = stack.writeInventory(join(dir, 'inventory'))
  const [, second, third] = stack.hosts as [Stack['hosts'][0], Stack['hosts'][0], Stack['hosts'][0]]
  const results: CaseResult[] = []

  // (a) A good version passes on every host.
  const good = await roll(t, stack, inventory, writeAppWar(dir, 'v2'), ['v1', 'v2'])
  t.equal(good.run.code, 0, `the roll passes\n${good.run.output}`)
  t.same(good.verdicts, ['pass', 'pass', 'pass'], 'the gate passed on each host')
  t.same(await Promise.all(stack.hosts.map((h) => stack.versionOf(h))), ['v2', 'v2', 'v2'])
  t.equal(good.report.failed, 0, `no failed request: ${JSON.stringify(good.report.failures.slice(0, 5))}`)
  results.push({
    id: 'a',
    verdict: good.verdicts.join('/'),
    requests: good.report.requests,
    failed: good.report.failed,
    seconds: good.run.seconds,
  })

  // (b) and (c): a bad v3 is caught on the first host, which is put back on v2; the roll stops there.
  const bad: Array<[string, string, Parameters<typeof writeAppWar>[2], string]> = [
    ['b', 'one answer in twenty a 500', { failEvery: 20 }, 'fail max-5xx-ratio'],
    ['c', 'three times slower', { slowFactor: 3 }, 'fail max-p99-ms'],
  ]
  for (const [id, what, options, expected] of bad) {
    const untouched = [second, third].map((h) => readFileSync(join(h.tomcat.base, 'webapps/app.war')))
    const res = await roll(t, stack, inventory, writeAppWar(dir, 'v3', options), ['v2', 'v3'])
    t.equal(res.run.code, 1, `(${id}) ${what}: the roll stops (deploy-war exit 5)\n${res.run.output}`)
    t.same(res.verdicts, [expected], `(${id}) caught on the first host by ${expected}`)
    t.match(res.run.output, /t1 +FAILED \(exit 5\)/)
    t.match(res.run.output, /the new version failed the canary gate; the previous version is back and serving/)
    t.match(res.run.output, /t2 +not started \(untouched\)/)
    t.same(await Promise.all(stack.hosts.map((h) => stack.versionOf(h))), ['v2', 'v2', 'v2'], `(${id}) the first host serves v2 again`)
    t.same(
      [second, third].map((h) => readFileSync(join(h.tomcat.base, 'webapps/app.war'))),
      untouched,
      `(${id}) the other hosts were not touched`,
    )
    const statuses = Object.keys(res.report.byStatus).sort()
    t.same(
      statuses,
      res.report.failed > 0 ? ['200', '500'] : ['200'],
      `(${id}) only 200s and the bad version's 500s: ${JSON.stringify(res.report.byStatus)}`,
    )
    t.ok(
      res.report.failures.every((f) => /^HTTP 500: v3/.test(f.error)),
      `(${id}) every failure is v3's own answer: ${JSON.stringify(res.report.failures.slice(0, 5))}`,
    )
    if (id === 'c') t.equal(res.report.failed, 0, '(c) a slow version fails no request')
    else t.ok(res.report.failed > 0, '(b) the bad answers were seen by the clients (the test can see a failure)')
    results.push({
      id,
      verdict: res.verdicts.join('/'),
      requests: res.report.requests,
      failed: res.report.failed,
      seconds: res.run.seconds,
    })
  }

  process.stderr.write(
    `canary: ${results.map((r) => `${r.id}=${r.verdict} requests=${r.requests} failed=${r.failed} ${r.seconds.toFixed(1)}s`).join('; ')}\n`,
  )
})
