import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import t from 'tap'
import { TrafficSchema, type Traffic } from '../../src/protocol/traffic.js'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { agentctl, AGENTCTL_BIN, requireBuilt } from '../helpers/cli.js'
import { LoadGenerator } from '../helpers/load.js'
import { ACCESS_LOG_PATTERN, Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'

/**
 * `agentctl canary` (the built binary) against a real Tomcat 10 whose access log the agent
 * follows, under a bounded load: a good app passes, 5xx answers and slow answers fail with the
 * limit named and the figures, too little traffic fails, an agent without an access log is a
 * usage error. Short watches (a few seconds) to keep the file fast.
 */

requireBuilt(AGENTCTL_BIN)

async function canary(agent: RunningAgent, args: string[], load?: { path: string; failPath?: string }) {
  const generator = load
    ? new LoadGenerator({
        url: `${load.path}`,
        clients: 4,
        slowEvery: load.failPath ? 10 : undefined,
        slowPath: load.failPath,
        maxRequests: 50_000,
        maxSeconds: 60,
      })
    : null
  generator?.start()
  try {
    return await agentctl(
      ['canary', '--agent', agent.adminUrl, '--token-file', join(agent.dir, 'admin-token'), '--interval-ms', '200', ...args],
      {},
      60_000,
    )
  } finally {
    await generator?.stop()
  }
}

t.test('agentctl canary on a real Tomcat 10', async (t) => {
  const tomcat = await Tomcat.create(t, { name: 'canary' })
  tomcat.deployDir(
    '/app',
    writeWebapp(tempDir(t), {
      'health.txt': 'UP\n',
      'index.jsp': '<%@ page contentType="text/plain" %>ok\n',
      'fail.jsp': '<% response.setStatus(500); %>failed\n',
      'slow.jsp': '<% Thread.sleep(150); %>slow\n',
    }),
  )
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')
  for (const page of ['/app/index.jsp', '/app/slow.jsp', '/app/fail.jsp']) await fetch(tomcat.url(page)).then((r) => r.text())
  const agent = await startAgent(t, {
    tomcatUrl: tomcat.url('/app/health.txt'),
    accessLogFile: tomcat.accessLog,
    accessLogPattern: ACCESS_LOG_PATTERN,
  })
  await waitFor('the agent to answer 200', async () => (await agent.check()).status === 200, { timeoutMs: 30_000 })

  t.test('GET /v1/traffic answers as the protocol declares it', async (t) => {
    const doc = JSON.parse((await agent.admin('GET', '/v1/traffic')).body) as Traffic
    t.same(
      [...Value.Errors(TrafficSchema, doc)].map((e) => `${e.path}: ${e.message}`),
      [],
    )
    t.equal(doc.enabled, true)
    t.equal(doc.duration.buckets.length > 10, true)
    t.equal((await agent.admin('GET', '/v1/traffic', undefined, { authorization: 'Bearer wrong' })).status, 401, 'behind the token')
  })

  t.test('a good app passes at the end of the watch', async (t) => {
    const started = Date.now()
    const res = await canary(agent, ['--for', '3s', '--min-requests', '50'], { path: tomcat.url('/app/index.jsp') })
    t.equal(res.code, 0, res.stdout + res.stderr)
    t.match(res.stdout, /^canary: pass: \d+ requests, 0 5xx \(0\.00%, limit 1\.00%\), p99 \d+ ms \(limit 1000 ms\), 3\.\ds\n$/)
    t.ok(Date.now() - started >= 3000, 'watched the whole time')
  })

  t.test('one answer in ten a 500: fails on the 5xx ratio before the end, with the figures', async (t) => {
    const started = Date.now()
    const res = await canary(agent, ['--for', '30s', '--min-requests', '50'], {
      path: tomcat.url('/app/index.jsp'),
      failPath: '/app/fail.jsp',
    })
    t.equal(res.code, 6, res.stdout + res.stderr)
    t.match(res.stdout, /^canary: fail max-5xx-ratio: 5xx ratio \d+\.\d\d% \(\d+ of \d+\) above the limit 1\.00%; \d+ requests, \d+ 5xx/)
    t.ok(Date.now() - started < 25_000, 'failed well before the end of the watch')
  })

  t.test('slow answers: fails on the p99 limit', async (t) => {
    const res = await canary(agent, ['--for', '30s', '--min-requests', '20', '--max-p99-ms', '100'], { path: tomcat.url('/app/slow.jsp') })
    t.equal(res.code, 6, res.stdout + res.stderr)
    t.match(res.stdout, /^canary: fail max-p99-ms: p99 latency (1[5-9]\d|[2-9]\d\d) ms above the limit 100 ms;/)
  })

  t.test('too little traffic to judge fails, with progress while it watches', async (t) => {
    const res = await canary(agent, ['--for', '6s', '--min-requests', '1000'])
    t.equal(res.code, 6, res.stdout + res.stderr)
    t.match(res.stdout, /^canary: fail min-requests: only \d+ requests, fewer than the 1000 needed to judge;/)
    t.match(res.stderr, /canary: watching \d+s of 6s \(\d+s left\): \d+ requests \(need 1000\), 5xx 0\.00% \(limit 1\.00%\), p99 /)
  })

  t.test('bad usage', async (t) => {
    t.match(await canary(agent, []), { code: 2, stderr: /--for: expected a duration/ })
    t.match(await canary(agent, ['--for', '5s', '--max-5xx-ratio', '2']), {
      code: 2,
      stderr: /--max-5xx-ratio: expected a number from 0 to 1, got "2"/,
    })
  })
})

t.test('an agent without an access log: a usage error that says what to set', async (t) => {
  const agent = await startAgent(t)
  const doc = JSON.parse((await agent.admin('GET', '/v1/traffic')).body) as Traffic
  t.same(
    [...Value.Errors(TrafficSchema, doc)].map((e) => `${e.path}: ${e.message}`),
    [],
  )
  t.equal(doc.enabled, false)
  const res = await canary(agent, ['--for', '5s'])
  t.equal(res.code, 2)
  t.match(res.stderr, /does not follow an access log \(set its --access-log-file\)/)
})
