import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { AuditTail } from '../../src/state/audit-reader.js'
import { startAgent } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'

t.test('drain --for sets an expiry that status shows; history lists the changes with who, why and how long', async (t) => {
  const running = await startAgent(t)
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }

  const drain = await agentctl(['drain', '--for', '2h', '--reason', 'deploy v42', '--by', 'alice'], env)
  t.equal(drain.code, 0, drain.stderr)
  const until = running.agent.core.store.current?.until ?? ''
  const left = Date.parse(until) - Date.now()
  t.ok(left > 7190_000 && left <= 7200_000, `until is 2 h away (${left} ms)`)
  t.match(drain.stdout, new RegExp(`^until ${until}: then the agent sets ready by itself$`, 'm'))
  const status = await agentctl(['status'], env)
  t.match(status.stdout, new RegExp(`^admin +drain since \\S+ until ${until} by alice: deploy v42$`, 'm'))

  // A torn line and a weight entry in the log are skipped, not fatal.
  appendFileSync(
    join(running.dir, 'audit.log'),
    '{"time":"2026-\n{"time":"2026-11-30T00:00:00.000Z","kind":"weight","from":null,"to":"50%"}\n',
  )
  const ready = await agentctl(['ready', '--reason', 'deployed', '--by', 'bob'], env)
  t.equal(ready.code, 0, ready.stderr)

  const history = await agentctl(['history'], env)
  t.equal(history.code, 0, history.stderr)
  const lines = history.stdout.trimEnd().split('\n')
  t.match(lines[0], /^when +change +lasted +source +who: why$/)
  t.match(lines[1], /^\S+Z {2}- -> ready +\d+s +initial +health-agent: initial state$/)
  t.match(lines[2], new RegExp(`^\\S+Z  ready -> drain +\\d+s +api +alice: deploy v42 \\(until ${until}\\)$`))
  t.match(lines[3], /^\S+Z {2}drain -> ready +\d+s so far +api +bob: deployed$/)
  t.equal(lines.length, 4)

  const json = await agentctl(['history', '--json', '--limit', '2'], env)
  const tail = JSON.parse(json.stdout) as AuditTail
  t.same(
    tail.entries.map((e) => [e.from, e.to, e.by, e.current]),
    [
      ['ready', 'drain', 'alice', false],
      ['drain', 'ready', 'bob', true],
    ],
  )
  t.ok(tail.entries[0]!.durationMs >= 0 && tail.entries[0]!.durationMs < 60_000)
  t.equal(tail.truncated, false)

  const since = await agentctl(['history', '--json', '--since', '2026-01-01T00:00:00Z'], env)
  t.equal((JSON.parse(since.stdout) as AuditTail).entries.length, 3)
  const future = await agentctl(['history', '--since', '2099-01-01T00:00:00Z'], env)
  t.equal(future.stdout, 'no state changes in the audit log\n')
  const recent = await agentctl(['history', '--json', '--since', '1h'], env)
  t.equal((JSON.parse(recent.stdout) as AuditTail).entries.length, 3, '--since as a duration back from now')
})

t.test('history and --for refuse bad values with a clear message and exit 2; the admin API refuses bad queries', async (t) => {
  const running = await startAgent(t)
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
  const cases: Array<[string[], RegExp]> = [
    [['history', '--since', 'yesterday'], /--since: expected an ISO time/],
    [['history', '--limit', '0'], /--limit: expected an integer from 1 to 1000, got 0/],
    [['status', '--since', '1h'], /--since goes with history/],
    [['drain', '--for', '8d'], /--for: expected a duration from 1s to 7d/],
    [['ready', '--for', '1h'], /--for goes with drain, down or weight N%/],
    [['history', '--wait'], /--wait goes with ready, drain or down, not history/],
  ]
  for (const [args, message] of cases) {
    const result = await agentctl(args, env)
    t.equal(result.code, 2, args.join(' '))
    t.match(result.stderr, message)
  }
  t.equal((await running.admin('GET', '/v1/history?since=nope')).status, 400)
  t.equal((await running.admin('GET', '/v1/history?limit=5000')).status, 400)
  t.equal((await running.admin('GET', '/v1/history?x=1')).status, 400)
  const noToken = await running.admin('GET', '/v1/history', undefined, { authorization: '' })
  t.equal(noToken.status, 401, 'the history needs the token')
})
