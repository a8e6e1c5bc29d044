import { join } from 'node:path'
import t from 'tap'
import { parseDuration, parseWeightArgs } from '../../src/cli/weight-command.js'
import { describeWeight } from '../../src/protocol/render.js'
import { startAgent } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'

t.test('durations and arguments', async (t) => {
  const durations: Array<[string, number | null]> = [
    ['600', 600],
    ['90s', 90],
    ['10m', 600],
    ['2h', 7200],
    ['1d', 86400],
    ['1h30m', 5400],
    ['10 m', null],
    ['1x', null],
    ['', null],
  ]
  for (const [text, seconds] of durations) t.equal(parseDuration(text), seconds, JSON.stringify(text))
  t.same(parseWeightArgs(['50%'], undefined), { action: 'set', percent: 50 })
  t.same(parseWeightArgs(['50'], '10m'), { action: 'set', percent: 50, expiresInSeconds: 600 })
  t.same(parseWeightArgs(['clear'], undefined), { action: 'clear' })
  for (const [args, forText, message] of [
    [[], undefined, /expected a percentage/],
    [['0%'], undefined, /use agentctl drain/],
    [['150%'], undefined, /expected 1% to 100%/],
    [['50%', 'now'], undefined, /unexpected argument "now"/],
    [['clear'], '1m', /--for goes with weight N%/],
    [['50%'], 'soon', /--for: expected a duration/],
  ] as Array<[string[], string | undefined, RegExp]>) {
    t.throws(() => parseWeightArgs(args, forText), { message }, `${args.join(' ')} ${forText ?? ''}`)
  }
})

t.test('the built agentctl sets, shows and clears the override', async (t) => {
  const running = await startAgent(t, { agentCheckListen: '127.0.0.1:0' })
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }

  const set = await agentctl(['weight', '50%', '--for', '10m', '--reason', 'canary', '--by', 'alice'], env)
  t.equal(set.code, 0, set.stderr)
  t.match(set.stdout, /^weight: override 50% until \S+; the agent check now reports 50%\n$/)

  const status = await agentctl(['status'], env)
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /^weight {6}50% \(override until \S+ by alice: canary\)$/m)
  t.match(
    status.stdout,
    new RegExp(`^agent check 127\\.0\\.0\\.1:${running.agentCheckPort} answers "ready up 50% #weight override until \\S+: canary"$`, 'm'),
  )

  await running.admin('PUT', '/v1/state', { state: 'drain' })
  const cleared = await agentctl(['weight', 'clear'], env)
  t.equal(cleared.code, 0, cleared.stderr)
  t.match(cleared.stdout, /^weight: override cleared; the agent check now reports 10% \(ramp-pending\)\n$/)

  const usage = await agentctl(['weight', '0%'], env)
  t.equal(usage.code, 2, 'a usage error exits 2')
  t.match(
    usage.stderr,
    /^agentctl: weight: expected 1% to 100% such as "50%" or "clear", got "0%" \(0% would drain the server behind the agent's back: use agentctl drain\)\n$/,
  )
})

t.test('status lines for each kind of weight', async (t) => {
  const running = await startAgent(t, { agentCheckListen: '127.0.0.1:0' })
  const lines = () => describeWeight(running.agent.core.status()).join('\n')
  t.match(
    lines(),
    /^weight {6}10% \(ramp step 0\/10, \d+% of the way, 100% at \S+\)\nagent check 127\.0\.0\.1:\d+ answers "ready up 10% #ramp 0\/10"$/,
    'a ramp from the start',
  )
  await running.admin('PUT', '/v1/state', { state: 'drain' })
  t.match(lines(), /^weight {6}10% \(not ready: a return to ready starts a ramp at 10%\)$/m)
  await running.admin('PUT', '/v1/state', { state: 'ready' })
  t.match(lines(), /^weight {6}10% \(ramp step 0\/10, \d+% of the way, 100% at \S+\)$/m)
  await running.admin('PUT', '/v1/weight', { weight: '40%' })
  t.match(lines(), /^weight {6}40% \(override until cleared\)\n {12}a ramp is under way behind the override: step 0\/10$/m)

  const off = await startAgent(t)
  t.match(
    describeWeight(off.agent.core.status()).join('\n'),
    /^agent check off \(--agent-check-listen\); the HTTP check cannot carry a weight$/m,
  )
})
