import t from 'tap'
import { probeTomcat, PROBE_USER_AGENT } from '../../src/tomcat/probe.js'
import { statusMatcher, type ProbeSettings } from '../../src/tomcat/settings.js'
import { closedPort, startHttpServer, startSilentServer } from '../helpers/http-server.js'

function settings(url: string, extra: Partial<ProbeSettings> = {}): ProbeSettings {
  return {
    url,
    intervalMs: 1000,
    fastIntervalMs: 200,
    pidFile: null,
    timeoutMs: 1000,
    fall: 3,
    rise: 2,
    expectStatus: statusMatcher(['2xx', '3xx']),
    expectBody: null,
    ...extra,
  }
}

t.test('an accepted status passes, with its latency; the request says who probes', async (t) => {
  const server = await startHttpServer(t, (_, res) => res.end('UP'))
  const result = await probeTomcat(settings(server.url('/app/health')))
  t.match(result, { ok: true, status: 200, error: null, at: String })
  t.ok(result.latencyMs >= 0 && result.latencyMs < 1000)
  t.equal(server.requests[0]?.url, '/app/health')
  t.equal(server.requests[0]?.headers['user-agent'], PROBE_USER_AGENT)
  t.equal(server.requests[0]?.headers.connection, 'close', 'a new connection per probe: a dead Tomcat cannot hide behind an idle socket')
})

t.test('a status outside the list fails and says which it was', async (t) => {
  const server = await startHttpServer(t, (req, res) => {
    res.statusCode = req.url === '/moved' ? 302 : 503
    res.end()
  })
  t.match(await probeTomcat(settings(server.url('/down'))), {
    ok: false,
    status: 503,
    error: 'HTTP 503 (expected 2xx,3xx)',
    connectionLost: false,
  })
  t.match(await probeTomcat(settings(server.url('/moved'))), { ok: true, status: 302 })
  t.match(await probeTomcat(settings(server.url('/moved'), { expectStatus: statusMatcher(['200']) })), {
    ok: false,
    error: 'HTTP 302 (expected 200)',
  })
})

t.test('an optional body match', async (t) => {
  let body = 'status: UP'
  const server = await startHttpServer(t, (_, res) => res.end(body))
  const withBody = settings(server.url('/'), { expectBody: /UP$/ })
  t.match(await probeTomcat(withBody), { ok: true })
  body = 'status: STARTING'
  t.match(await probeTomcat(withBody), { ok: false, status: 200, error: 'HTTP 200 but the body does not match /UP$/' })
})

t.test('nothing listening: connection refused, at once', async (t) => {
  const result = await probeTomcat(settings(`http://127.0.0.1:${await closedPort()}/`))
  t.match(result, { ok: false, status: null, error: 'connection refused', connectionLost: true })
  t.ok(result.latencyMs < 500)
})

t.test('a server that accepts and never answers fails after the timeout', async (t) => {
  const silent = await startSilentServer(t)
  const result = await probeTomcat(settings(`http://127.0.0.1:${silent.port}/`, { timeoutMs: 200 }))
  t.match(result, { ok: false, status: null, error: 'no answer within 200 ms', connectionLost: false })
  t.ok(result.latencyMs >= 190, `took ${result.latencyMs} ms`)
  t.equal(silent.connections(), 1)
})

t.test('headers then a body that never ends also fails after the timeout', async (t) => {
  const server = await startHttpServer(t, (_, res) => {
    res.writeHead(200, { 'content-length': '100' })
    res.write('UP')
  })
  t.match(await probeTomcat(settings(server.url('/'), { timeoutMs: 200 })), { ok: false, error: 'no answer within 200 ms' })
})

t.test('a connection closed without an answer fails', async (t) => {
  const server = await startHttpServer(t, (req) => {
    req.socket.destroy()
  })
  t.match(await probeTomcat(settings(server.url('/'))), {
    ok: false,
    status: null,
    error: /connection (closed without an answer|reset)/,
    connectionLost: true,
  })
})

t.test('an aborted probe ends at once', async (t) => {
  const silent = await startSilentServer(t)
  const abort = new AbortController()
  const pending = probeTomcat(settings(`http://127.0.0.1:${silent.port}/`, { timeoutMs: 10_000 }), abort.signal)
  setImmediate(() => abort.abort())
  t.match(await pending, { ok: false, error: 'aborted' })
})

t.test('a probe given a signal already aborted ends at once, without an error nobody listens to', async (t) => {
  const silent = await startSilentServer(t)
  t.match(await probeTomcat(settings(`http://127.0.0.1:${silent.port}/`), AbortSignal.abort()), {
    ok: false,
    error: 'aborted',
    connectionLost: false,
  })
  // An unhandled 'error' of a destroyed request would surface here, as an uncaught exception.
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(silent.connections(), 0, 'no connection was even opened')
})
