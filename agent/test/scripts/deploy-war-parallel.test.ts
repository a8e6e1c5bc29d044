import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentctl, AGENTCTL_BIN, requireBuilt, runDeployScript } from '../helpers/cli.js'
import { fakeLoadBalancers } from '../helpers/fake-lbs.js'
import { managerFlags, startManagedTomcat } from '../helpers/managed-tomcat.js'
import { StickyUser, writeVersionedApp, writeVersionedWar } from '../helpers/versioned-app.js'
import { waitFor } from '../helpers/wait.js'

/**
 * deploy-war --parallel on a real Tomcat 10 with its manager and a real agent (two load balancers'
 * checks as HAProxy sends them): the new version beside the running one without a restart, a
 * sticky user kept on the old version until it is retired (here at a short maximum age, which
 * says what ended), and a new version that fails to deploy or to warm up rolled back with
 * nothing restarted.
 */

t.test('deploy-war --parallel: deploy beside, warm up, ready, retire; failures roll back without a restart', async (t) => {
  const dir = tempDir(t)
  const { tomcat, credentials } = await startManagedTomcat(t, dir, {
    name: 'deploy-parallel',
    users: [
      { name: 'agent', password: 'agent-secret-3', roles: ['manager-script', 'manager-status'] },
      { name: 'deployer', password: 'deployer-secret-5', roles: ['manager-script'] },
    ],
    apps: { '/app##001': writeVersionedApp(dir, '001') },
    readyPath: '/app/health.txt',
  })
  const deployerCredentials = credentials.deployer as string
  const running = await startAgent(t, {
    ...managerFlags(tomcat, credentials.agent as string),
    warmupUrls: '/app/version.txt',
    warmupRequests: '20',
    expectLb: 'lb1,lb2',
  })
  fakeLoadBalancers(t, running, {})
  await waitFor('the agent to answer 200', async () => (await running.check()).status === 200, { timeoutMs: 30_000 })
  const pid = tomcat.pid
  const common = [
    '--context',
    'app',
    '--manager-url',
    tomcat.url('/manager'),
    '--manager-credentials-file',
    deployerCredentials,
    '--agent',
    running.adminUrl,
    '--token-file',
    join(running.dir, 'admin-token'),
    '--drain-timeout',
    '30',
    '--ready-timeout',
    '30',
  ]
  const alice = new StickyUser()
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 1 })

  // The roll, with the old version retired at a short maximum age while alice still has her session.
  const script = spawn(
    join(PACKAGE_ROOT, 'scripts/deploy-war'),
    ['--parallel', '--war', writeVersionedWar(dir, '002'), '--version', '002', '--retire-max-age', '4s', '--retire-wait', ...common],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        AGENTCTL: `${process.execPath} ${requireBuilt(AGENTCTL_BIN)}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  t.teardown(() => {
    if (script.exitCode === null && script.pid) process.kill(script.pid, 'SIGKILL')
  })
  let out = ''
  script.stdout.on('data', (c: Buffer) => (out += c.toString()))
  script.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) => script.on('close', resolve))
  await waitFor('the retire step', () => out.includes('step: retire the old versions'), { timeoutMs: 60_000 })
  t.equal((await running.check()).status, 200, 'ready before the old version is retired')
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 2 }, 'alice stays on 001')
  const carol = new StickyUser()
  t.match(StickyUser.parse((await carol.get(tomcat.url('/app/counter.jsp'))).body), { version: '002' }, 'new users get 002')
  t.equal(await exited, 0, out)
  t.match(out, /done: drain and wait until every load balancer confirms/)
  t.match(out, /done: deploy \/app##002 beside the running version/)
  t.match(out, /\/app##002 warmed up: 20 requests, 0 failed/)
  t.match(out, /retire: undeployed \/app##001: the maximum age 4s passed: 1 active session ended with it/)
  t.match(out, /deploy-war: deployed \/app##002 beside the previous version, no restart/)

  // A version that fails its warm-up: undeployed, 002 serves on.
  const cold = await runDeployScript('deploy-war', [
    '--parallel',
    '--war',
    writeVersionedWar(dir, '003', { cold: true }),
    '--version',
    '003',
    ...common,
  ])
  t.equal(cold.code, 3, cold.stderr)
  t.match(cold.stderr, /deploy-war: error: \/app##003 failed its warm-up; the previous version serves, \/app##003 is undeployed\n$/)
  // A version that fails to start, with the default version (the UTC time): undeployed, 002 serves on.
  const broken = await runDeployScript('deploy-war', ['--parallel', '--war', writeVersionedWar(dir, '004', { broken: true }), ...common])
  t.equal(broken.code, 3, broken.stderr)
  t.match(broken.stderr, /deploy-war: error: \/app##\d{8}T\d{6} could not be deployed; the previous version serves\n$/)
  const list = await agentctl([
    'tomcat',
    'list',
    '--path',
    '/app',
    '--tomcat-manager-url',
    tomcat.url('/manager'),
    '--tomcat-manager-credentials-file',
    deployerCredentials,
  ])
  t.equal(list.stdout, '/app##002: running, 1 active session, takes new sessions\n', 'carol is on 002')
  t.equal((await running.check()).status, 200)
  t.equal(tomcat.pid, pid, 'Tomcat was never restarted')

  // The default retire: detached, after the script, its lines in CATALINA_BASE/logs/retire-app.log.
  const bob = new StickyUser()
  t.match(StickyUser.parse((await bob.get(tomcat.url('/app/counter.jsp'))).body), { version: '002', count: 1 })
  const background = await runDeployScript('deploy-war', [
    '--parallel',
    '--war',
    writeVersionedWar(dir, '005'),
    '--version',
    '005',
    '--catalina-base',
    tomcat.base,
    '--retire-max-age',
    '60',
    ...common,
  ])
  t.equal(background.code, 0, background.stderr)
  const pidOf = /the old versions are retired in the background \(pid (\d+), at most 60\): see (\S+)\n/.exec(background.stderr)
  t.ok(pidOf, 'it says where the retire runs and logs')
  const retirePid = Number(pidOf?.[1])
  t.teardown(() => {
    try {
      process.kill(retirePid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
  const retireLog = pidOf?.[2] ?? ''
  t.equal(retireLog, join(tomcat.base, 'logs/retire-app.log'))
  await waitFor(
    'retire to wait for the sessions on 002',
    () => existsSync(retireLog) && readFileSync(retireLog, 'utf8').includes('retire: waiting for'),
    {
      timeoutMs: 20_000,
    },
  )
  for (const user of [bob, carol]) t.equal((await user.get(tomcat.url('/app/logout.jsp'))).status, 200, 'a user of 002 logs out')
  await waitFor('the retire to end', () => readFileSync(retireLog, 'utf8').includes('retire: only the newest version of /app is left'), {
    timeoutMs: 30_000,
  })
  t.match(readFileSync(retireLog, 'utf8'), /retire: undeployed \/app##002: its sessions ended \(0 active\)/)

  const refused = await runDeployScript('deploy-war', ['--parallel', '--rollback', ...common])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /--parallel goes without --rollback and --exploded/)
})
