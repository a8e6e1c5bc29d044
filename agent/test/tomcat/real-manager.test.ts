import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'

/**
 * Manager signals from a real Tomcat 10 manager application (Debian's tomcat10-admin): the busy
 * request threads and the active sessions the drain confirmation uses.
 */

const MANAGER_APP = '/usr/share/tomcat10-admin/manager'
const SLOW_MS = 2500

t.test('fast timers (200 ms probe): busy threads and sessions from a real Tomcat manager, polled while draining', async (t) => {
  if (!existsSync(MANAGER_APP)) {
    throw new Error(
      `${MANAGER_APP} is missing: install Tomcat's manager application with sudo scripts/install-system-deps.sh (tomcat10-admin)`,
    )
  }
  const dir = tempDir(t)
  const tomcat = await Tomcat.create(t, {
    name: 'manager',
    users: [{ name: 'agent', password: 'manager-secret-42', roles: ['manager-script', 'manager-status'] }],
  })
  tomcat.deployDir('/manager', MANAGER_APP)
  const app = writeWebapp(join(dir, 'app'), {
    'health.txt': 'UP\n',
    'session.jsp': '<%@ page trimDirectiveWhitespaces="true" %><% session.setAttribute("user", "demo"); %>session\n',
    'slow.jsp': `<%@ page session="false" trimDirectiveWhitespaces="true" %><% Thread.sleep(${SLOW_MS}); %>slow\n`,
  })
  tomcat.deployDir('/app', app)
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')

  const credentials = join(dir, 'manager-credentials')
  writeFileSync(credentials, 'agent:manager-secret-42\n', { mode: 0o600 })
  const running = await startAgent(t, {
    tomcatUrl: tomcat.url('/app/health.txt'),
    tomcatIntervalMs: '200',
    tomcatManagerUrl: tomcat.url('/manager'),
    tomcatManagerCredentialsFile: credentials,
    tomcatManagerContexts: '/app',
    tomcatManagerPollMs: '200',
  })
  const signals = () => running.agent.core.tomcat.signals()

  for (let i = 0; i < 3; i++) t.equal((await httpRequest(tomcat.url('/app/session.jsp'))).status, 200, `session ${i + 1} created`)
  t.equal(signals().at, null, 'not polled while ready')

  await running.agent.core.store.set({ state: 'drain', reason: 'manager test' })
  const idle = await waitFor('the manager to report 3 sessions, no busy thread', () => {
    const s = signals()
    return s.sessions?.['/app'] === 3 && s.busyThreads === 0 && s.error === null ? s : false
  })
  t.match(idle, { busyThreads: 0, sessions: { '/app': 3 }, error: null })

  const slow = httpRequest(tomcat.url('/app/slow.jsp'))
  await waitFor('a busy request thread while the slow request runs', () => (signals().busyThreads ?? 0) >= 1)
  t.equal((await slow).status, 200)
  await waitFor('no busy thread once it ended', () => signals().busyThreads === 0)

  const metrics = await running.agent.core.metrics.registry.metrics()
  t.match(metrics, /health_agent_tomcat_active_sessions\{context="\/app"\} 3/)
  t.match(metrics, /health_agent_tomcat_busy_threads 0/)
  const status = JSON.parse((await running.admin('GET', '/v1/status')).body)
  t.match(status.tomcat.manager, { polling: true, signals: { busyThreads: 0, sessions: { '/app': 3 } } })
  t.notMatch(JSON.stringify(status), /manager-secret-42/, 'the password never shows in status')
  t.notMatch(
    running
      .logLines()
      .map((l) => JSON.stringify(l))
      .join('\n'),
    /manager-secret-42/,
    'nor in the log',
  )
})
