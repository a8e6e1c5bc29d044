import { get, type IncomingMessage } from 'node:http'
import t from 'tap'
import type { PageView } from '../../src/http/page/view.js'
import { MAX_PAGE_CLIENTS } from '../../src/http/page/feed.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

interface EventStream {
  response: IncomingMessage
  events: PageView[]
  close(): void
}

/** Reads /status/events as a browser's EventSource would: `data:` lines, a blank line ends an event. */
function openEvents(t: Parameters<typeof startAgent>[0], agent: RunningAgent): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = get(`${agent.healthUrl}/status/events`, { headers: { accept: 'text/event-stream' } }, (response) => {
      const events: PageView[] = []
      let buffer = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          if (data) events.push(JSON.parse(data) as PageView)
        }
      })
      response.on('error', () => undefined)
      const stream = { response, events, close: () => req.destroy() }
      t.teardown(() => stream.close())
      resolve(stream)
    })
    req.on('error', reject)
  })
}

t.test('the page, its style sheet and script are served from the agent with a strict content policy', async (t) => {
  const agent = await startAgent(t)
  const page = await httpRequest(`${agent.healthUrl}/status`)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.headers['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'/)
  t.notMatch(page.body, /<script>|style=|https?:\/\//, 'no inline code, nothing from elsewhere')
  for (const [path, type] of [
    ['/status/page.js', /^text\/javascript/],
    ['/status/page.css', /^text\/css/],
  ] as const) {
    const res = await httpRequest(`${agent.healthUrl}${path}`)
    t.equal(res.status, 200, path)
    t.match(res.headers['content-type'], type)
    t.notMatch(res.body, /https?:\/\//, `${path} loads nothing from elsewhere`)
  }
  t.notMatch(
    (await httpRequest(`${agent.healthUrl}/status/page.js`)).body,
    /innerHTML|insertAdjacentHTML|document\.write/,
    'the script never parses text as HTML',
  )
})

t.test('the public page shows neither who nor why, nor the token; nothing on it changes anything', async (t) => {
  const agent = await startAgent(t)
  await agent.admin('PUT', '/v1/state', { state: 'drain', reason: 'secret-ticket-4711', by: 'secret-person', for: 3600 })
  const view = await httpRequest(`${agent.healthUrl}/status/view`)
  t.equal(view.status, 200)
  const v = JSON.parse(view.body) as PageView
  t.match(v, { detail: 'public', effective: { state: 'drain', httpStatus: 404 }, admin: { state: 'drain', until: String } })
  t.notOk('by' in (v.admin ?? {}) || 'reason' in (v.admin ?? {}), 'no by or reason keys')
  t.ok(v.history.length >= 2, 'the audit tail is there')
  const everything = [
    view.body,
    ...(await Promise.all(
      ['/status', '/status/page.js', '/status/page.css'].map(async (p) => (await httpRequest(`${agent.healthUrl}${p}`)).body),
    )),
  ].join('\n')
  for (const secret of ['secret-ticket-4711', 'secret-person', agent.token, agent.dir])
    t.notOk(everything.includes(secret), `does not contain ${secret === agent.token ? 'the token' : secret}`)

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    for (const path of ['/status', '/status/view', '/status/events', '/v1/state']) {
      const res = await httpRequest(`${agent.healthUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{"state":"ready"}',
      })
      // 404: no such route; fastify answers a DELETE with a body 400 before routing.
      t.ok(res.status === 404 || (method === 'DELETE' && res.status === 400), `${method} ${path}: ${res.status}`)
    }
  }
  t.equal(agent.agent.core.store.current?.state, 'drain', 'still drained')
})

t.test('--page-detail full shows who and why', async (t) => {
  const agent = await startAgent(t, { pageDetail: 'full' })
  await agent.admin('PUT', '/v1/state', { state: 'down', reason: 'disk swap', by: 'carol' })
  const v = JSON.parse((await httpRequest(`${agent.healthUrl}/status/view`)).body) as PageView
  t.match(v, { detail: 'full', admin: { state: 'down', by: 'carol', reason: 'disk swap' } })
  t.match(v.history.at(-1), { to: 'down', by: 'carol', reason: 'disk swap', current: true })
})

t.test('events: the view at once, a change pushed without waiting for the tick, a cap on open pages, close ends them', async (t) => {
  const agent = await startAgent(t)
  const stream = await openEvents(t, agent)
  t.equal(stream.response.statusCode, 200)
  t.match(stream.response.headers['content-type'], /^text\/event-stream/)
  await waitFor('the first event', () => stream.events.length > 0)
  t.equal(stream.events[0]?.effective.state, 'ready')
  const before = stream.events.length
  const setAt = Date.now()
  await agent.agent.core.store.set({ state: 'drain' })
  const seen = await waitFor('the drain pushed', () => stream.events.slice(before).find((e) => e.effective.state === 'drain'))
  t.ok(Date.now() - setAt < 1000, `pushed in ${Date.now() - setAt} ms`)
  await waitFor('the audit row of the drain', () => stream.events.at(-1)?.history.at(-1)?.to === 'drain')
  t.equal(seen.admin?.state, 'drain')

  const more: EventStream[] = []
  for (let i = 1; i < MAX_PAGE_CLIENTS; i++) more.push(await openEvents(t, agent))
  t.ok(more.every((s) => s.response.statusCode === 200))
  const refused = await openEvents(t, agent)
  t.equal(refused.response.statusCode, 503, `page ${MAX_PAGE_CLIENTS + 1} is refused`)
  t.equal((await agent.check()).status, 404, 'the check still answers')

  const ended = new Promise<void>((resolve) => stream.response.once('end', resolve))
  const closing = Date.now()
  await agent.agent.close()
  await ended
  t.ok(Date.now() - closing < 5000, `the agent closed with pages open in ${Date.now() - closing} ms`)
})

t.test('a checker that does not count is not in "N of M confirm" either', async (t) => {
  const agent = await startAgent(t, { expectLb: 'lb1,lb2' })
  const state = (node: string, status: string) =>
    `${status}; address=127.0.0.1; port=8080; name=be/t1; node=${node}; weight=1/1; scur=0/0; qcur=0`
  await agent.admin('PUT', '/v1/state', { state: 'drain' })
  await httpRequest(`${agent.healthUrl}/health`, { headers: { 'x-haproxy-server-state': state('lb1', 'NOLB') } })
  await httpRequest(`${agent.healthUrl}/health`, { headers: { 'x-haproxy-server-state': state('lb2', 'UP') } })
  // A person's curl from another address: a one-off, listed, not counted.
  await new Promise<void>((resolve, reject) =>
    get({ host: '127.0.0.1', port: agent.healthPort, path: '/health', localAddress: '127.0.0.2' }, (res) => {
      res.resume()
      res.on('end', resolve)
    }).on('error', reject),
  )
  const v = JSON.parse((await httpRequest(`${agent.healthUrl}/status/view`)).body) as PageView
  t.equal(v.loadBalancers.length, 3, 'all three are listed')
  t.match(v.goal, { confirming: 1, of: 2 }, '1 of 2 confirm: the one-off is not in the denominator')
})
