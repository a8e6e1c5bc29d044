import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../helpers/agent.js'
import { agentctl, AGENTCTL_BIN, requireBuilt } from '../helpers/cli.js'
import { startManagedTomcat } from '../helpers/managed-tomcat.js'
import { StickyUser, writeVersionedApp, writeVersionedWar } from '../helpers/versioned-app.js'
import { waitFor } from '../helpers/wait.js'

/**
 * `agentctl tomcat` against a real Tomcat 10 and its manager application (Debian's tomcat10-admin),
 * with a user that has the manager-script role only: a new version deployed beside the running
 * one without a restart, sticky users kept on the old one, bad names refused, a version that
 * fails to start undeployed again, and old versions retired as their sessions end.
 */

async function setUp(t: Test) {
  const dir = tempDir(t)
  const { tomcat, credentials } = await startManagedTomcat(t, dir, {
    name: 'parallel',
    users: [{ name: 'deployer', password: 'deploy-secret-7', roles: ['manager-script'] }],
    apps: { '/app##001': writeVersionedApp(dir, '001') },
    readyPath: '/app/health.txt',
  })
  const env = {
    HEALTH_AGENT_TOMCAT_MANAGER_URL: tomcat.url('/manager'),
    HEALTH_AGENT_TOMCAT_MANAGER_CREDENTIALS_FILE: credentials.deployer as string,
  }
  const ctl = (args: string[]) => agentctl(['tomcat', ...args], env, 60_000)
  return { dir, tomcat, env, ctl }
}

t.test('a new version beside the running one: new users get it, sticky users keep theirs, bad names are refused', async (t) => {
  const { dir, tomcat, ctl } = await setUp(t)
  const alice = new StickyUser()
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 1 })
  const pid = tomcat.pid

  const deployed = await ctl(['deploy', '--path', '/app', '--version', '002', '--war', writeVersionedWar(dir, '002')])
  t.equal(deployed.code, 0, deployed.stderr)
  t.match(deployed.stdout, /^deployed \/app##002 beside \/app##001 \(1 active session\): it takes the new sessions\n$/)
  t.equal(tomcat.pid, pid, 'no restart')

  t.match(
    StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body),
    { version: '001', count: 2 },
    'the sticky user stays on 001',
  )
  const bob = new StickyUser()
  t.match(StickyUser.parse((await bob.get(tomcat.url('/app/counter.jsp'))).body), { version: '002', count: 1 }, 'a new user gets 002')

  const list = await ctl(['list', '--path', '/app'])
  t.equal(list.stdout, '/app##001: running, 1 active session, old: draining\n/app##002: running, 1 active session, takes new sessions\n')

  const older = await ctl(['deploy', '--path', '/app', '--version', '0010', '--war', writeVersionedWar(dir, '0010')])
  t.equal(older.code, 2)
  t.match(older.stderr, /--version: version "0010" sorts before the deployed "002" \(Tomcat compares versions as text\)/)
  for (const [flag, value, why] of [
    ['--path', '/a/../b', /--path: "\/a\/..\/b" has a ".." segment/],
    ['--path', 'app', /--path: expected a context path starting with \//],
    ['--version', '00#3', /--version: expected a version of letters, digits/],
  ] as const) {
    const args = { '--path': '/app', '--version': '003', [flag]: value }
    const refused = await ctl(['deploy', '--path', args['--path'], '--version', args['--version'], '--war', join(dir, 'app-002.war')])
    t.equal(refused.code, 2, `${flag} ${value} refused`)
    t.match(refused.stderr, why)
    t.equal(refused.stderr.trim().split('\n').length, 1, 'in one line')
  }
  t.equal((await ctl(['list', '--path', '/app'])).stdout.split('\n').filter(Boolean).length, 2, 'nothing was deployed by the refusals')
})

t.test('a version that fails to start is undeployed again, and the running one keeps serving', async (t) => {
  const { dir, tomcat, ctl } = await setUp(t)
  const failed = await ctl(['deploy', '--path', '/app', '--version', '002', '--war', writeVersionedWar(dir, '002', { broken: true })])
  t.equal(failed.code, 1, failed.stdout)
  t.match(failed.stderr, /^agentctl: tomcat deploy of \/app##002 failed: the manager answered: FAIL - .*; undeployed it again\n$/)
  t.equal((await ctl(['list', '--path', '/app'])).stdout, '/app##001: running, 0 active sessions, takes new sessions\n')
  t.match(StickyUser.parse((await new StickyUser().get(tomcat.url('/app/counter.jsp'))).body), { version: '001' })
})

t.test('retire: an old version goes once its sessions end, or at the maximum age with the count of what ended', async (t) => {
  const { dir, tomcat, ctl, env } = await setUp(t)
  const alice = new StickyUser()
  await alice.get(tomcat.url('/app/counter.jsp'))
  t.equal((await ctl(['deploy', '--path', '/app', '--version', '002', '--war', writeVersionedWar(dir, '002')])).code, 0)

  // Its sessions end: the user logs out while retire watches.
  const retire = spawn(process.execPath, [requireBuilt(AGENTCTL_BIN), 'tomcat', 'retire', '--path', '/app', '--interval-ms', '200'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => {
    if (retire.exitCode === null) retire.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  retire.stdout.on('data', (c: Buffer) => (out += c.toString()))
  retire.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const exited = new Promise<number | null>((resolve) => retire.on('close', resolve))
  await waitFor('retire to wait for the old session', () => err.includes('retire: waiting for /app##001 1 active session'), {
    timeoutMs: 20_000,
  })
  t.equal((await alice.get(tomcat.url('/app/logout.jsp'))).status, 200)
  t.equal(await exited, 0, err)
  t.equal(out, 'retire: undeployed /app##001: its sessions ended (0 active)\nretire: only the newest version of /app is left\n')

  // The maximum age passes with a session still there: it is said, not hidden.
  const carol = new StickyUser()
  t.match(StickyUser.parse((await carol.get(tomcat.url('/app/counter.jsp'))).body), { version: '002', count: 1 })
  t.equal((await ctl(['deploy', '--path', '/app', '--version', '003', '--war', writeVersionedWar(dir, '003')])).code, 0)
  const aged = await ctl(['retire', '--path', '/app', '--max-age', '1s', '--interval-ms', '200'])
  t.equal(aged.code, 0, aged.stderr)
  t.match(aged.stdout, /^retire: undeployed \/app##002: the maximum age 1s passed: 1 active session ended with it\n/)
  t.equal((await ctl(['list', '--path', '/app'])).stdout, '/app##003: running, 0 active sessions, takes new sessions\n')
  t.match(StickyUser.parse((await carol.get(tomcat.url('/app/counter.jsp'))).body), { version: '003', count: 1 }, 'that user starts over')
})
