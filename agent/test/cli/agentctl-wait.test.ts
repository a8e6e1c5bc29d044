import { join } from 'node:path'
import t from 'tap'
import { startAgent } from '../helpers/agent.js'
import { agentctl, runDeployScript } from '../helpers/cli.js'
import { fakeLoadBalancers } from '../helpers/fake-lbs.js'

t.test('agentctl --wait: confirmed, timeout, force-after, and its usage errors', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1,lb2' })
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
  const scur: Record<string, number> = { lb1: 1, lb2: 0 }
  fakeLoadBalancers(t, running, scur)

  const usage: Array<[string[], RegExp]> = [
    [['drain', '--timeout', '5'], /--timeout goes with --wait/],
    [['status', '--wait'], /--wait goes with ready, drain or down/],
    [['drain', '--wait', '--timeout', 'soon'], /--timeout: expected a number of seconds/],
    [['drain', '--wait', '--force-after', '0'], /--force-after: expected more than 0/],
  ]
  for (const [args, message] of usage) {
    const r = await agentctl(args, env)
    t.equal(r.code, 2, `${args.join(' ')} exits 2`)
    t.match(r.stderr, message)
  }

  const timedOut = await agentctl(['drain', '--wait', '--timeout', '1'], env)
  t.equal(timedOut.code, 1, 'a timeout exits 1')
  t.match(timedOut.stderr, /drained not confirmed within 1\.\ds; the server stays drained: lb1 be\/s1: NOLB with 1 session in flight/)
  t.match(timedOut.stdout, /\[0\.\ds\] waiting for drained: lb1 be\/s1 \w+ scur=1/, 'without a terminal, a plain progress line')
  t.equal(running.agent.core.store.current?.state, 'drain', 'and the server stays drained')

  const forced = await agentctl(['drain', '--wait', '--force-after', '0.5'], env)
  t.equal(forced.code, 0, 'force-after exits 0')
  t.match(
    forced.stderr,
    /WARNING: drained NOT confirmed after 0\.\ds; going on anyway because of --force-after: lb1 be\/s1: NOLB with 1 session in flight/,
  )

  scur.lb1 = 0
  const confirmed = await agentctl(['drain', '--wait', '--json'], env)
  t.equal(confirmed.code, 0, 'confirmed exits 0')
  const doc = JSON.parse(confirmed.stdout) as {
    status: { admin: { state: string } }
    wait: { outcome: string; confirmation: { loadBalancers: unknown[] } }
  }
  t.equal(doc.status.admin.state, 'drain', '--json --wait prints one document: the status...')
  t.match(doc.wait, { event: 'done', outcome: 'confirmed', confirmation: { confirmed: true } }, '...and the last event of the wait')

  const ready = await agentctl(['ready', '--wait', '--timeout', '20'], env)
  t.equal(ready.code, 0, `ready --wait exits 0 ${ready.stderr}`)
  t.match(ready.stdout, /ready: confirmed by 2 load balancers after \d+\.\ds \(lb1 be\/s1 UP scur=0, lb2 be\/s1 UP scur=0\)/)

  const status = await agentctl(['status'], env)
  t.match(
    status.stdout,
    /lbs {9}ready confirmed \(stale after 10s, expected lb1, lb2\)\n {2}lb1 be\/s1 +UP +scur=0 qcur=0 +checked \d\.\ds ago {2}ok/,
  )
})

/** Runs scripts/pre-deploy as a Tomcat hook would, with this agent. */
function preDeploy(args: string[], env: Record<string, string>) {
  return runDeployScript('pre-deploy', args, env)
}

t.test('agentctl down --drain-first --wait, and pre-deploy through it: down only once the drain is confirmed', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1,lb2' })
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
  const scur: Record<string, number> = { lb1: 1, lb2: 0 }
  fakeLoadBalancers(t, running, scur)
  const state = () => running.agent.core.store.current?.state

  const usage: Array<[string[], RegExp]> = [
    [['drain', '--drain-first', '--wait'], /--drain-first goes with down, not drain/],
    [['down', '--drain-first'], /--drain-first goes with --wait/],
    [['down', '--drain-first', '--wait', '--json'], /--json goes without --drain-first/],
    [['down', '--wait', '--drain-timeout', '5'], /--drain-timeout goes with --drain-first/],
    [['down', '--drain-first', '--wait', '--drain-timeout', 'soon'], /^agentctl: --drain-timeout: expected a number of seconds/],
  ]
  for (const [args, message] of usage) {
    const r = await agentctl(args, env)
    t.equal(r.code, 2, `${args.join(' ')} exits 2`)
    t.match(r.stderr, message)
  }
  t.equal(state(), 'ready', 'a refused command changes nothing')

  const stuck = await agentctl(['down', '--drain-first', '--wait', '--drain-timeout', '1'], env)
  t.equal(stuck.code, 1, 'a drain not confirmed in time exits 1')
  t.match(stuck.stderr, /drained not confirmed within 1\.\ds; the server stays drained/)
  t.notMatch(stuck.stdout, /^down: /m, 'and down is never set')
  t.equal(state(), 'drain', 'the server stays drained, not down')

  const failedHook = await preDeploy(['--drain-timeout', '1'], env)
  t.equal(failedHook.code, 1, 'pre-deploy exits 1 the same way')
  t.match(failedHook.stderr, /pre-deploy: FAILED: drain and wait until every load balancer confirms \(exit 1, after/)
  t.equal(state(), 'drain')

  await agentctl(['ready', '--wait', '--timeout', '20'], env)
  scur.lb1 = 0
  const hook = await preDeploy(['--reason', 'deploy v2'], env)
  t.equal(hook.code, 0, `pre-deploy exits 0 once drained and down ${hook.stderr}`)
  t.match(
    hook.stderr,
    /step: drain and wait until every load balancer confirms\n.*done: drain and wait until every load balancer confirms \([\d.]+ s\)\n.*step: down and wait until no load balancer sends traffic\n.*done: down and wait until no load balancer sends traffic \([\d.]+ s\)/,
    'two steps, in order',
  )
  t.match(
    hook.stdout,
    /drained: confirmed by 2 load balancers[\s\S]*down: admin state is now down \(was drain\)[\s\S]*down: confirmed by 2/,
  )
  t.equal(state(), 'down')
  t.equal(running.agent.core.store.current?.reason, 'deploy v2')
})
