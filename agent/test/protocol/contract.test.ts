import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { AgentStatusSchema, WaitEventSchema, type AgentStatus } from '../../src/protocol/status.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { streamJsonLines } from '../helpers/http.js'
import { startHttpServer } from '../helpers/http-server.js'
import { waitFor } from '../helpers/wait.js'

/** Every reason a document does not fit its schema, as lines a failing assertion can show. */
function misfits(schema: Parameters<typeof Value.Errors>[0], value: unknown): string[] {
  return [...Value.Errors(schema, value)].slice(0, 10).map((e) => `${e.path}: ${e.message} (got ${JSON.stringify(e.value)})`)
}

async function status(agent: RunningAgent): Promise<AgentStatus> {
  return JSON.parse((await agent.admin('GET', '/v1/status')).body) as AgentStatus
}

t.test('a running agent answers /v1/status and /v1/wait as the protocol declares them, in every part', async (t) => {
  const tomcat = await startHttpServer(t, (req, res) => {
    if ((req.url ?? '').startsWith('/manager/status'))
      return res.end('<status><connector name="http"><threadInfo currentThreadsBusy="1"/></connector></status>')
    if ((req.url ?? '').startsWith('/manager/text/sessions'))
      return res.end(
        'OK - Session information for application at context path [/app]\nDefault maximum session inactive interval is 30 minutes\n<1 minutes: 2 sessions\n',
      )
    res.end('UP\n')
  })
  const { writeFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { tempDir } = await import('../helpers/agent.js')
  const dir = tempDir(t)
  const credentials = join(dir, 'manager.credentials')
  writeFileSync(credentials, 'robot:secret\n', { mode: 0o600 })
  const agent = await startAgent(
    t,
    {
      agentCheckListen: '127.0.0.1:0',
      tomcatUrl: tomcat.url('/app/health'),
      warmupUrls: '/app/',
      tomcatManagerUrl: tomcat.url('/manager'),
      tomcatManagerCredentialsFile: credentials,
    },
    dir,
  )
  await waitFor('ready after the warm-up', async () => (await agent.check()).status === 200, { timeoutMs: 30_000 })
  const ready = await status(agent)
  t.same(misfits(AgentStatusSchema, ready), [], 'ready, probed and warmed up: the status fits the schema')
  t.ok(ready.tomcat.probe && ready.tomcat.warmup && ready.tomcat.manager, 'with every optional part present')

  await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'contract', for: 600 })
  const header = 'NOLB; address=127.0.0.1; port=8080; name=be/t1; node=lb1; weight=1/1; scur=0/0; qcur=0'
  const { httpRequest } = await import('../helpers/http.js')
  await httpRequest(`${agent.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header } })
  await httpRequest(`${agent.healthUrl}/health`)
  const draining = await status(agent)
  t.same(misfits(AgentStatusSchema, draining), [], 'draining, with an expiry, a load balancer view and a one-off checker: it fits')
  t.ok(draining.loadBalancers.confirmation?.loadBalancers.length, 'with load balancer rows')

  const wait = await streamJsonLines(`${agent.adminUrl}/v1/wait?for=drained&timeout=5&progress=0.2`, {
    authorization: `Bearer ${agent.token}`,
  })
  const { setInterval } = await import('node:timers')
  const checking = setInterval(() => void httpRequest(`${agent.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header } }), 100)
  t.teardown(() => clearInterval(checking))
  const lines = await wait.ended
  clearInterval(checking)
  t.ok(lines.length >= 2, `${lines.length} wait events`)
  for (const line of lines) t.same(misfits(WaitEventSchema, line), [], `wait event ${(line as { event: string }).event} fits`)

  const bare = await startAgent(t)
  t.same(misfits(AgentStatusSchema, await status(bare)), [], 'an agent with nothing optional configured: it fits too')
})
