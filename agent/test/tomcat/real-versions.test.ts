import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { managerFlags, startManagedTomcat } from '../helpers/managed-tomcat.js'
import { StickyUser, writeVersionedApp, writeVersionedWar } from '../helpers/versioned-app.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The agent follows Tomcat's parallel deployment (a real Tomcat 10 and its manager): it shows each
 * version of the watched context with its sessions, warms a new version up before answering 200,
 * answers drain (404), never down, while it does, and holds a version that fails its warm-up at
 * drain until it is undeployed and the running version is newest again.
 */

t.test('fast timers (200 ms probe and poll): versions, sessions and the warm-up of each new version', async (t) => {
  const dir = tempDir(t)
  const { tomcat, credentials } = await startManagedTomcat(t, dir, {
    name: 'versions',
    users: [{ name: 'agent', password: 'versions-secret-9', roles: ['manager-script', 'manager-status'] }],
    apps: { '/app##001': writeVersionedApp(dir, '001') },
    readyPath: '/app/health.txt',
  })
  const running = await startAgent(t, {
    ...managerFlags(tomcat, credentials.agent as string),
    warmupUrls: '/app/version.txt',
    warmupRequests: '20',
  })
  const env = {
    HEALTH_AGENT_URL: running.adminUrl,
    HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token'),
    HEALTH_AGENT_TOMCAT_MANAGER_URL: tomcat.url('/manager'),
    HEALTH_AGENT_TOMCAT_MANAGER_CREDENTIALS_FILE: credentials.agent as string,
  }
  const ctl = (args: string[]) => agentctl(args, env, 60_000)
  await waitFor('the agent to answer 200', async () => (await running.check()).status === 200, { timeoutMs: 30_000 })
  const alice = new StickyUser()
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 1 })

  // Every answer while the new versions come and go: never down, since Tomcat never stops.
  const answers = new Set<number>()
  let watching = true
  const watcher = (async () => {
    while (watching) answers.add((await running.check()).status)
  })()
  t.teardown(() => {
    watching = false
  })

  t.equal((await ctl(['drain', '--reason', 'parallel deploy'])).code, 0)
  await waitFor('the agent to see /app##001', () => running.agent.core.tomcat.signals().versions?.['/app']?.length === 1)
  const deployed = await ctl(['tomcat', 'deploy', '--path', '/app', '--version', '002', '--war', writeVersionedWar(dir, '002')])
  t.equal(deployed.code, 0, deployed.stderr)
  const warm = await ctl(['tomcat', 'wait-version', '--version', '002', '--timeout', '30'])
  t.equal(warm.code, 0, warm.stderr)
  t.match(warm.stdout, /^\/app##002 warmed up: 20 requests, 0 failed\n$/)
  const ready = await ctl(['ready', '--reason', 'parallel deploy done'])
  t.equal(ready.code, 0)
  await waitFor('200 again', async () => (await running.check()).status === 200, { timeoutMs: 10_000 })

  const status = await ctl(['status'])
  t.match(status.stdout, /^versions +\/app: ##002 takes new sessions \(0 sessions\); ##001 draining \(1 session\)$/m, status.stdout)
  const metrics = await running.agent.core.metrics.registry.metrics()
  t.match(metrics, /health_agent_tomcat_version_sessions\{context="\/app",version="001",role="old"\} 1/)
  t.match(metrics, /health_agent_tomcat_version_sessions\{context="\/app",version="002",role="new"\} 0/)
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 2 }, 'alice keeps her session')

  // A version that fails its warm-up: held at drain (404), never 200, though the admin state is ready.
  const cold = await ctl(['tomcat', 'deploy', '--path', '/app', '--version', '003', '--war', writeVersionedWar(dir, '003', { cold: true })])
  t.equal(cold.code, 0, cold.stderr)
  const failed = await ctl(['tomcat', 'wait-version', '--version', '003', '--timeout', '30'])
  t.equal(failed.code, 1)
  t.match(
    failed.stderr,
    /^agentctl: the warm-up of \/app##003 failed: \d+ of \d+ requests failed \(at most 0 allowed\), last: GET \S+\/app\/version\.txt: HTTP 404 \(expected 2xx,3xx\)\n$/,
  )
  t.equal((await running.check()).status, 404)
  t.match(running.agent.core.status().effective, {
    state: 'drain',
    cause: 'warmup',
    why: /^new version 003, deployed beside the running one/,
  })
  t.equal((await ctl(['tomcat', 'undeploy', '--path', '/app', '--version', '003'])).code, 0)
  t.equal(
    (await ctl(['tomcat', 'wait-version', '--version', '002', '--timeout', '30'])).code,
    0,
    'the running version is newest again, warm',
  )
  await waitFor('200 again after the rollback', async () => (await running.check()).status === 200, { timeoutMs: 10_000 })
  watching = false
  await watcher
  t.same([...answers].sort(), [200, 404], 'only 200 and 404 were answered: never down')
  t.match(StickyUser.parse((await alice.get(tomcat.url('/app/counter.jsp'))).body), { version: '001', count: 3 }, 'alice still has hers')
})
