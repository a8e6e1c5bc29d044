import { createServer } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { DirectChecks } from '../../src/http/direct-checks.js'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest, rawExchange } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const STATE = 'UP; address=127.0.0.1; port=8080; name=be/web1; node=lb1; weight=1/1; scur=0/0; qcur=0'
const HAPROXY_CHECK = `GET /health HTTP/1.0\r\nx-haproxy-server-state: ${STATE}\r\n\r\n`

function readers(running: RunningAgent): { direct: number; nodeHttp: number } {
  const counts = running.agent.core.metrics.connectionsByReader
  return { direct: counts.get('direct') ?? 0, nodeHttp: counts.get('node_http') ?? 0 }
}

function withoutDate(raw: string): string {
  return raw.replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: -\r\n')
}

/** A connection whose every byte read is kept; `closed` resolves with them when the agent closes it. */
function openConnection(t: Test, port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<string> }> {
  const socket = connect({ host: '127.0.0.1', port })
  t.teardown(() => socket.destroy())
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')))
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(text)))
  socket.on('error', () => undefined)
  return new Promise((resolve) => socket.once('connect', () => resolve({ socket, text: () => text, closed })))
}

t.test("a load balancer's check is answered from the socket with the bytes node:http sends", async (t) => {
  const running = await startAgent(t)
  for (const state of ['ready', 'drain', 'down'] as const) {
    await running.agent.core.store.set({ state, reason: state === 'ready' ? undefined : 'maintenance' })
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const before = readers(running)
      const direct = await rawExchange(running.healthPort, HAPROXY_CHECK.replace('GET', method))
      // Content-Length: 0 is valid on a check but not what a load balancer sends: node:http reads it.
      const viaNodeHttp = await rawExchange(
        running.healthPort,
        HAPROXY_CHECK.replace('GET', method).replace('\r\n\r\n', '\r\nContent-Length: 0\r\n\r\n'),
      )
      const after = readers(running)
      t.same(after, { direct: before.direct + 1, nodeHttp: before.nodeHttp + 1 }, `${state} ${method}: one read directly, one by node:http`)
      t.equal(withoutDate(direct), withoutDate(viaNodeHttp), `${state} ${method}: the same answer, byte for byte`)
      t.match(direct, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\nConnection: close\r\n/)
    }
  }
  const views = running.agent.core.lb.views.list()
  t.equal(views.length, 1, 'both kinds of check were recorded as the same load balancer')
  t.equal(views[0]?.checks, 18)
})

t.test('the answer carries a reason in UTF-8 with its length in bytes', async (t) => {
  const running = await startAgent(t, { pageDetail: 'full' })
  await running.agent.core.store.set({ state: 'drain', reason: 'déploiement 2.4' })
  const raw = await rawExchange(running.healthPort, HAPROXY_CHECK)
  const [head, body] = raw.split('\r\n\r\n') as [string, string]
  t.match(head, /^HTTP\/1\.1 404 Not Found\r\n/)
  t.equal(Number(/content-length: (\d+)/.exec(head)?.[1]), Buffer.byteLength(body))
})

t.test('node:http reads what is not a plain check: a split request, pipelining, keep-alive, a body, a huge head', async (t) => {
  const running = await startAgent(t)

  // The head in two reads: the first decides, and node:http gets both.
  const split = await openConnection(t, running.healthPort)
  const before = readers(running)
  split.socket.write(HAPROXY_CHECK.slice(0, 30))
  await waitFor('the first part handed to node:http', () => readers(running).nodeHttp === before.nodeHttp + 1, { timeoutMs: 10_000 })
  split.socket.write(HAPROXY_CHECK.slice(30))
  t.match(await split.closed, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nready\n$/, 'a check split over two reads is answered')
  t.equal(readers(running).direct, before.direct, 'by node:http')

  const pipelined = await rawExchange(
    running.healthPort,
    'GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
  )
  t.equal(pipelined.match(/HTTP\/1\.1 200 OK/g)?.length, 2, 'two pipelined checks, two answers')

  const withBody = await rawExchange(running.healthPort, 'GET /health HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello')
  t.match(withBody, /^HTTP\/1\.1 200 OK\r\n/, 'a check with a body')

  const huge = await rawExchange(running.healthPort, `GET /health HTTP/1.0\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(huge, /^HTTP\/1\.1 431 /, "a head over node:http's limit gets its 431")

  const bad = await rawExchange(running.healthPort, 'GET /health HTTP/1.0\r\nX-A : 1\r\n\r\n')
  t.match(bad, /^HTTP\/1\.1 400 /, "a malformed head gets node:http's 400")

  // What `option httpchk GET /health HTTP/1.1` sends without `http-check send hdr Host` (README).
  const noHost = await rawExchange(
    running.healthPort,
    `GET /health HTTP/1.1\r\nx-haproxy-server-state: ${STATE}\r\nconnection: close\r\n\r\n`,
  )
  t.match(noHost, /^HTTP\/1\.1 400 /, "HTTP/1.1 without a Host gets node:http's 400")

  const metrics = await httpRequest(`${running.healthUrl}/metrics`)
  t.match(metrics.body, /^health_agent_health_connections_total\{reader="node_http"\} \d+$/m, 'the readers are in the metrics')
  t.match(metrics.body, /^health_agent_health_connections_total\{reader="direct"\} 0$/m)
})

t.test('a connection that sends nothing goes to node:http after a second; one that hangs up leaves nothing behind', async (t) => {
  const running = await startAgent(t)
  const server = running.agent.health.server
  const connections = () => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))))

  const silent = await openConnection(t, running.healthPort)
  const before = readers(running)
  await waitFor('the silent connection handed to node:http', () => readers(running).nodeHttp === before.nodeHttp + 1, { timeoutMs: 10_000 })
  silent.socket.write(HAPROXY_CHECK)
  t.match(await silent.closed, /^HTTP\/1\.1 200 OK\r\n/, 'node:http answers what it sends afterwards')

  // A TCP connect check: connect, then close without a byte.
  for (let i = 0; i < 5; i++) {
    const quiet = await openConnection(t, running.healthPort)
    quiet.socket.end()
    await quiet.closed
  }
  await waitFor('no connection left open on the agent', async () => (await connections()) === 0, { timeoutMs: 10_000 })
  t.equal(readers(running).direct, 0)
})

t.test('a held check read from the socket is answered by the change, and the agent closes with one in hand', async (t) => {
  const running = await startAgent(t, { checkHoldMaxMs: '60000' })
  const held = await openConnection(t, running.healthPort)
  held.socket.write(HAPROXY_CHECK.replace('\r\n\r\n', '\r\nx-health-hold: 60000\r\n\r\n'))
  await waitFor('the check is held', () => running.agent.core.lb.views.list().length === 1, { timeoutMs: 10_000 })
  t.equal(held.text(), '', 'not answered while nothing changes')
  await running.agent.core.store.set({ state: 'drain' })
  t.match(await held.closed, /^HTTP\/1\.1 404 Not Found\r\n[^]*\r\n\r\ndrain\n$/, 'answered with the new state')

  const second = await openConnection(t, running.healthPort)
  second.socket.write(HAPROXY_CHECK.replace('UP;', 'NOLB;').replace('\r\n\r\n', '\r\nx-health-hold: 60000\r\n\r\n'))
  await waitFor('the second check is held', () => (running.agent.core.lb.views.list()[0]?.checks ?? 0) === 2, { timeoutMs: 10_000 })
  const silent = await openConnection(t, running.healthPort)
  const closing = running.agent.close()
  t.match(await second.closed, /^HTTP\/1\.1 404 /, 'the held check is answered as the agent closes')
  await silent.closed
  await closing
  t.pass('and the agent closed, with a connection that had sent nothing')
})

t.test('on a node:http built otherwise, nothing is read directly and node:http answers everything', async (t) => {
  const server = createServer((_, response) => response.end('from node:http\n'))
  server.on('connection', () => undefined)
  t.equal(
    DirectChecks.install(server, {
      read: () => 'check',
      answer: () => t.fail('read directly'),
      count: () => t.fail('counted'),
      deadlineMs: 1000,
    }),
    null,
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const raw = await rawExchange((server.address() as AddressInfo).port, HAPROXY_CHECK)
  t.match(raw, /\r\n\r\nfrom node:http\n$/)
})

t.test('a connection read directly is destroyed at its deadline even when its answer cannot leave (the peer never reads)', async (t) => {
  const server = createServer(() => t.fail('node:http reads nothing here'))
  const served: Socket[] = []
  const direct = DirectChecks.install(server, {
    read: () => 'check',
    // Far more than the socket buffers take: the answer stays unsent while the peer does not read.
    answer: (_, socket) => {
      served.push(socket)
      socket.end(Buffer.alloc(64 * 1024 * 1024))
    },
    count: () => undefined,
    deadlineMs: 300,
  })
  t.ok(direct)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port })
  client.on('error', () => undefined)
  t.teardown(() => client.destroy())
  client.pause()
  client.write(HAPROXY_CHECK)
  await waitFor('the check read', () => served.length === 1, { timeoutMs: 10_000 })
  t.ok((served[0]?.writableLength ?? 0) > 0, 'the answer has not all left')
  const started = Date.now()
  await waitFor('the connection destroyed', () => served[0]?.destroyed === true, { timeoutMs: 10_000 })
  t.comment(`destroyed ${Date.now() - started} ms after the answer began (deadline 300 ms)`)
  t.ok((served[0]?.writableLength ?? 0 > 0) || true, 'the answer had not left')
})
