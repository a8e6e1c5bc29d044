import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentctl, AGENTCTL_BIN, requireBuilt } from '../helpers/cli.js'
import { fakeLoadBalancers } from '../helpers/fake-lbs.js'
import { managerFlags, startManagedTomcat } from '../helpers/managed-tomcat.js'
import { StickyUser, writeVersionedApp } from '../helpers/versioned-app.js'
import { waitFor } from '../helpers/wait.js'

/**
 * `agentctl drain --wait --wait-sessions SEC` against a real Tomcat 10 and its manager: after the
 * load balancers confirm the drain, it waits until the sticky users' sessions have ended; when the
 * maximum passes first, it says how many sessions a restart now loses.
 */

t.test('fast timers (200 ms poll): drain --wait --wait-sessions waits for the sessions, or says what is lost', async (t) => {
  const dir = tempDir(t)
  const { tomcat, credentials } = await startManagedTomcat(t, dir, {
    name: 'wait-sessions',
    users: [{ name: 'agent', password: 'sessions-secret-1', roles: ['manager-script', 'manager-status'] }],
    apps: { '/app': writeVersionedApp(dir, '001') },
    readyPath: '/app/health.txt',
  })
  const running = await startAgent(t, { ...managerFlags(tomcat, credentials.agent as string), expectLb: 'lb1,lb2' })
  fakeLoadBalancers(t, running, {})
  await waitFor('the agent to answer 200', async () => (await running.check()).status === 200, { timeoutMs: 30_000 })
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
  const alice = new StickyUser()
  t.equal((await alice.get(tomcat.url('/app/counter.jsp'))).status, 200)

  // The maximum passes with alice still there: said, not hidden.
  const short = await agentctl(['drain', '--wait', '--timeout', '20', '--wait-sessions', '1'], env, 60_000)
  t.equal(short.code, 0, short.stderr)
  t.match(short.stdout, /^sessions: 1 active after the maximum 1s \(\/app=1\): a restart now logs those users out$/m)
  t.equal((await agentctl(['ready', '--reason', 'again'], env)).code, 0)

  // She logs out while the wait goes on: it ends with nothing lost.
  const wait = spawn(process.execPath, [requireBuilt(AGENTCTL_BIN), 'drain', '--wait', '--timeout', '20', '--wait-sessions', '60'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (wait.exitCode === null && wait.pid) process.kill(wait.pid, 'SIGKILL')
  })
  let out = ''
  wait.stdout.on('data', (c: Buffer) => (out += c.toString()))
  wait.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) => wait.on('close', resolve))
  await waitFor('the wait for her session', () => out.includes('sessions: waiting for 1 active session(s) to end (/app=1)'), {
    timeoutMs: 30_000,
  })
  t.equal((await alice.get(tomcat.url('/app/logout.jsp'))).status, 200)
  t.equal(await exited, 0, out)
  t.match(out, /^sessions: none left \(\/app=0\) after [\d.]+ s: stopping Tomcat loses no session$/m)

  const refused = await agentctl(['ready', '--wait-sessions', '10'], env)
  t.equal(refused.code, 2)
  t.match(refused.stderr, /^agentctl: --wait-sessions goes with drain --wait or down --drain-first --wait\n$/)
})
