import { get } from 'node:http'
import { createServer } from 'node:net'
import t from 'tap'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

/** A loopback port nothing listens on: the Tomcat probe fails there with a connection error. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The first event of /status/events, as text. */
function firstEvent(running: RunningAgent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(`${running.healthUrl}/status/events`, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
        if (/data: .*\n\n/.test(text)) {
          req.destroy()
          resolve(text)
        }
      })
    })
    req.on('error', reject)
  })
}

/** Everything an unauthenticated reader can get from the health listener. */
async function everythingPublic(running: RunningAgent): Promise<Record<string, string>> {
  const routes = ['/health', '/', '/status', '/status/view', '/status/page.js', '/metrics', '/no-such-route']
  const out: Record<string, string> = {}
  for (const route of routes) out[route] = (await httpRequest(`${running.healthUrl}${route}`)).body
  out['/status/events'] = await firstEvent(running)
  return out
}

t.test(
  'on the default (public) detail, no reason, weight reason, agent-check text, file path or error text reaches any route',
  async (t) => {
    const running = await startAgent(t, {
      tomcatUrl: `http://127.0.0.1:${await closedPort()}/probe`,
      tomcatIntervalMs: '100',
      tomcatPidFile: '/run/secret-pid-dir/tomcat.pid',
      agentCheckListen: '127.0.0.1:0',
    })
    await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'secret-reason-42', by: 'secret-person' })
    await running.admin('PUT', '/v1/weight', { weight: '50%', reason: 'weight-secret-9', by: 'secret-person' })
    const detailed = await waitFor('the probe failing', async () => {
      const s = JSON.parse((await running.admin('GET', '/v1/status')).body) as {
        effective: { why: string | null }
        stateFile: { problem: { message: string } | null }
        agentCheck: { reply: string }
      }
      return /connection refused/.test(s.effective.why ?? '') && s
    })
    t.match(detailed.agentCheck.reply, /#/, 'the agent check itself carries a description (for HAProxy)')
    const pub = await everythingPublic(running)
    const secrets = [
      'secret-reason-42',
      'secret-person',
      'weight-secret-9',
      'secret-pid-dir',
      'connection refused',
      running.dir,
      running.token,
      detailed.agentCheck.reply,
    ]
    for (const [route, body] of Object.entries(pub))
      for (const secret of secrets)
        t.notOk(body.includes(secret), `${route} does not show ${secret === running.token ? 'the token' : secret}`)
    t.match(
      pub['/'],
      /effective {3}down \(HTTP 500\) {2}because tomcat probe failing \(details on the admin API\)/,
      'the cause is still said',
    )
    t.match(pub['/health'], /^down: /)
  },
)

t.test('--page-detail full shows them (for a listener only trusted people reach)', async (t) => {
  const running = await startAgent(t, { pageDetail: 'full' })
  await running.admin('PUT', '/v1/weight', { weight: '50%', reason: 'weight-note-1' })
  await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'reason-1', by: 'carol' })
  const root = (await httpRequest(`${running.healthUrl}/`)).body
  for (const text of ['weight-note-1', 'reason-1', 'carol', running.dir]) t.ok(root.includes(text), `/ shows ${text}`)
})
