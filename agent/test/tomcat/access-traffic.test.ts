import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import t from 'tap'
import { AccessTraffic } from '../../src/tomcat/access-traffic.js'
import { tempDir } from '../helpers/agent.js'
import { ACCESS_LOG_PATTERN } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'

function traffic(dir: string, pattern = ACCESS_LOG_PATTERN) {
  const registry = new Registry()
  const log = join(dir, 'access.log')
  writeFileSync(log, '')
  const access = new AccessTraffic(
    { accessLogFile: log, accessLogPattern: pattern, accessLogPositionFile: join(dir, 'position') },
    registry,
    pino({ level: 'silent' }),
    new Date('2026-11-30T05:00:00.500Z'),
  )
  const value = async (name: string, labels: Record<string, string>) => {
    const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name)
    const found = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    return found?.value
  }
  return { access, log, registry, value }
}

const line = (status: number, micros: number) =>
  `127.0.0.1 [30/Nov/2026:05:00:01 +0000] "GET /app/x HTTP/1.1" ${status} 12 ${micros} "wrk"\n`

t.test('an unusable pattern stops the start with the setting named', async (t) => {
  t.throws(() => traffic(tempDir(t), '%h %s'), {
    code: 'AGENT_ERR_CONFIG',
    message: /^invalid accessLogPattern \(--access-log-pattern\): the access log pattern has no time taken .*got "%h %s"$/,
  })
})

t.test('bad lines are counted errors; good ones around them are counted; deploys keep two', async (t) => {
  const { access, log, value } = traffic(tempDir(t))
  t.teardown(() => access.close())
  await access.start()
  t.equal(access.deploy, '2026-11-30T05:00:00Z')
  appendFileSync(log, `${line(200, 1000)}not a line\n${line(503, 2000)}\n\u0000\u0001\n${line(302, 10)}`)
  await waitFor('the lines', async () => (await value('health_agent_access_responses_total', { class: '3xx' })) === 1)
  t.equal(await value('health_agent_access_responses_total', { deploy: '2026-11-30T05:00:00Z', class: '2xx' }), 1)
  t.equal(await value('health_agent_access_responses_total', { deploy: '2026-11-30T05:00:00Z', class: '5xx' }), 1)
  t.equal(await value('health_agent_access_log_errors_total', { kind: 'unparsed' }), 2, 'two bad lines; the empty line is no error')

  access.newDeploy(new Date('2026-11-30T05:01:00Z'))
  access.newDeploy(new Date('2026-11-30T05:02:00Z'))
  appendFileSync(log, line(500, 10))
  await waitFor(
    'the new deploy',
    async () => (await value('health_agent_access_responses_total', { deploy: '2026-11-30T05:02:00Z', class: '5xx' })) === 1,
  )
  t.equal(
    await value('health_agent_access_responses_total', { deploy: '2026-11-30T05:00:00Z', class: '2xx' }),
    undefined,
    'the oldest deploy is gone',
  )
  t.equal(
    await value('health_agent_access_responses_total', { deploy: '2026-11-30T05:01:00Z', class: '2xx' }),
    0,
    'the one before is kept (at zero)',
  )
})

t.test('the CPU cost of following a busy log', async (t) => {
  const { access, log, value } = traffic(tempDir(t))
  t.teardown(() => access.close())
  await access.start()
  const count = 200_000
  const text = Array.from({ length: count }, (_, i) => line(i % 20 === 0 ? 500 : 200, 1000 + (i % 5000))).join('')
  appendFileSync(log, text)
  const before = process.cpuUsage()
  await access.catchUp()
  await waitFor(
    'every line',
    async () =>
      (await value('health_agent_access_responses_total', { class: '2xx' }))! +
        (await value('health_agent_access_responses_total', { class: '5xx' }))! ===
      count,
    { timeoutMs: 120_000 },
  )
  const used = process.cpuUsage(before)
  const microsPerLine = (used.user + used.system) / count
  // The e2e load is at most a few thousand requests a second on this machine.
  t.comment(
    `access log: ${count} lines (${text.length} bytes) read, parsed and counted in ${((used.user + used.system) / 1000).toFixed(0)} ms CPU: ${microsPerLine.toFixed(1)} µs a line, ${(microsPerLine / 10).toFixed(2)}% of a core at 1000 requests/s`,
  )
  t.ok(microsPerLine < 50, `under 50 µs of CPU a line (${microsPerLine.toFixed(1)})`)
})
