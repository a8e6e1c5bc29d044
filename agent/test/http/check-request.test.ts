import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { MAX_DIRECT_HEAD_BYTES, readCheckRequest } from '../../src/http/check-request.js'
import { rawExchange } from '../helpers/http.js'

const STATE = 'UP; address=127.0.0.1; port=18080; name=tomcats/web1; node=lb1; weight=1/1; scur=0/0; qcur=0'
/** Byte for byte what HAProxy 2.6 sends with the recommended snippet (captured). */
const HAPROXY_CHECK = `GET /health HTTP/1.0\r\nx-health-hold: 1000\r\nx-haproxy-server-state: ${STATE}\r\n\r\n`
/** The same with `option httpchk GET /health HTTP/1.1` and a Host header. */
const HAPROXY_CHECK_11 = `GET /health HTTP/1.1\r\nhost: agent\r\nx-haproxy-server-state: ${STATE}\r\nconnection: close\r\n\r\n`

const read = (head: string) => readCheckRequest(Buffer.from(head, 'latin1'), '/health')

t.test('reads the checks HAProxy sends, and the plain checks other checkers send', async (t) => {
  t.same(read(HAPROXY_CHECK), { method: 'GET', serverState: STATE, hold: '1000' })
  t.same(read(HAPROXY_CHECK_11), { method: 'GET', serverState: STATE, hold: undefined })
  t.same(read('OPTIONS /health HTTP/1.0\r\n\r\n'), { method: 'OPTIONS', serverState: undefined, hold: undefined })
  t.same(read('HEAD /health?from=lvs HTTP/1.0\r\nUser-Agent: x\r\n\r\n'), { method: 'HEAD', serverState: undefined, hold: undefined })
  t.same(read('GET /health HTTP/1.0\r\nConnection: Close\r\nX-Health-Hold:\t2s \r\n\r\n'), {
    method: 'GET',
    serverState: undefined,
    hold: '2s',
  })
  t.same(read('GET /health HTTP/1.0\r\nX-Note: caf\xe9\r\n\r\n')?.method, 'GET', 'obs-text in a value, as node:http takes it')
})

t.test('leaves to node:http everything else, valid or not', async (t) => {
  const others: Array<[string, string]> = [
    ['keep-alive (HTTP/1.1 without Connection: close)', 'GET /health HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['keep-alive asked on HTTP/1.0', 'GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
    ['HTTP/1.1 without Host (node:http answers 400)', 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'],
    ['two Host headers', 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'],
    ['an incomplete head (the rest comes in another read)', 'GET /health HTTP/1.0\r\nX-Haproxy-Server-State: UP'],
    ['a head without its blank line', 'GET /health HTTP/1.0\r\n'],
    ['a second request behind the first', 'GET /health HTTP/1.0\r\n\r\nGET /health HTTP/1.0\r\n\r\n'],
    ['a body', 'GET /health HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi'],
    ['Content-Length even of 0', 'GET /health HTTP/1.0\r\nContent-Length: 0\r\n\r\n'],
    ['chunked', 'GET /health HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Expect', 'GET /health HTTP/1.0\r\nExpect: 100-continue\r\n\r\n'],
    ['Upgrade', 'GET /health HTTP/1.0\r\nUpgrade: websocket\r\n\r\n'],
    ['another method', 'POST /health HTTP/1.0\r\n\r\n'],
    ['a method in lower case', 'get /health HTTP/1.0\r\n\r\n'],
    ['another path', 'GET /healthz HTTP/1.0\r\n\r\n'],
    ['a path below the check path', 'GET /health/x HTTP/1.0\r\n\r\n'],
    ['the absolute form', 'GET http://agent/health HTTP/1.0\r\n\r\n'],
    ['the metrics', 'GET /metrics HTTP/1.0\r\n\r\n'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ['HTTP/0.9', 'GET /health\r\n\r\n'],
    ['two spaces in the request line', 'GET  /health HTTP/1.0\r\n\r\n'],
    ['a space before the version', 'GET /health  HTTP/1.0\r\n\r\n'],
    ['a leading blank line', '\r\nGET /health HTTP/1.0\r\n\r\n'],
    ['a control byte in the target', 'GET /health?\x01 HTTP/1.0\r\n\r\n'],
    ['a non-ASCII target', 'GET /health?\xe9 HTTP/1.0\r\n\r\n'],
    ['space before the colon', 'GET /health HTTP/1.0\r\nX-Haproxy-Server-State : UP\r\n\r\n'],
    ['a folded header line', 'GET /health HTTP/1.0\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['a line without a colon', 'GET /health HTTP/1.0\r\nnonsense\r\n\r\n'],
    ['an empty header name', 'GET /health HTTP/1.0\r\n: x\r\n\r\n'],
    ['a bare LF', 'GET /health HTTP/1.0\nX-A: 1\r\n\r\n'],
    ['a CR inside a value', 'GET /health HTTP/1.0\r\nX-A: 1\r2\r\n\r\n'],
    ['a NUL inside a value', 'GET /health HTTP/1.0\r\nX-A: 1\x002\r\n\r\n'],
    ['a DEL inside a value', 'GET /health HTTP/1.0\r\nX-A: 1\x7f\r\n\r\n'],
    ['the send-state header twice', `GET /health HTTP/1.0\r\nX-Haproxy-Server-State: ${STATE}\r\nX-Haproxy-Server-State: ${STATE}\r\n\r\n`],
    ['the hold header twice', 'GET /health HTTP/1.0\r\nX-Health-Hold: 1000\r\nX-Health-Hold: 1000\r\n\r\n'],
    ['Connection with more than close', 'GET /health HTTP/1.0\r\nConnection: close, TE\r\n\r\n'],
    ['an oversized head', `GET /health HTTP/1.0\r\nX-Pad: ${'a'.repeat(MAX_DIRECT_HEAD_BYTES)}\r\n\r\n`],
    ['TLS', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n'],
    ['nothing but the end of a head', '\r\n\r\n'],
  ]
  for (const [what, head] of others) t.equal(read(head), null, what)
  t.equal(readCheckRequest(Buffer.from('GET /ready HTTP/1.0\r\n\r\n'), '/ready')?.method, 'GET', 'the configured check path')
  t.equal(readCheckRequest(Buffer.from('GET /health HTTP/1.0\r\n\r\n'), '/ready'), null)
})

/**
 * Whatever the direct reader takes, node:http reads the same way: the same method, the same two
 * header values, a request on the check path that closes its connection. Checked on HAProxy's
 * check and on deterministic mutations of it (bytes replaced, removed, doubled, case flipped).
 */
t.test('what it reads, node:http reads alike (HAProxy checks and 3,000 mutations of them)', async (t) => {
  const seen: Array<{ method: string; url: string; state: unknown; hold: unknown; keepAlive: boolean }> = []
  const server = createServer((request: IncomingMessage, response) => {
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      state: request.headers['x-haproxy-server-state'],
      hold: request.headers['x-health-hold'],
      keepAlive: request.httpVersion === '1.1' ? request.headers.connection?.toLowerCase() !== 'close' : false,
    })
    response.end('ok\n')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as AddressInfo).port

  let seed = 17
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed % n
  }
  const bytes = ' :\t\r\nAaZz09/?;=,\x00\x7f\xe9-_.'
  const mutate = (head: string) => {
    const at = random(head.length - 4)
    const byte = bytes[random(bytes.length)] as string
    switch (random(4)) {
      case 0:
        return head.slice(0, at) + byte + head.slice(at + 1)
      case 1:
        return head.slice(0, at) + head.slice(at + 1)
      case 2:
        return head.slice(0, at) + byte + head.slice(at)
      default: {
        const char = head[at] as string
        const flipped = char === char.toLowerCase() ? char.toUpperCase() : char.toLowerCase()
        return head.slice(0, at) + flipped + head.slice(at + 1)
      }
    }
  }
  let accepted = 0
  const heads = [HAPROXY_CHECK, HAPROXY_CHECK_11]
  for (let i = 0; i < 3000; i++) heads.push(mutate(heads[i % 2] as string))
  for (const head of heads) {
    const check = read(head)
    if (!check) continue
    accepted++
    const before = seen.length
    const raw = await rawExchange(port, Buffer.from(head, 'latin1'))
    t.match(raw, /^HTTP\/1\.1 200 OK\r\n/, `node:http answers what the direct reader took: ${JSON.stringify(head)}`)
    const request = seen[before]
    if (!request) continue
    const ok =
      request.method === check.method &&
      (request.url === '/health' || request.url.startsWith('/health?')) &&
      request.state === check.serverState &&
      request.hold === check.hold &&
      !request.keepAlive
    if (!ok) t.fail(`read differently: ${JSON.stringify(head)}: direct ${JSON.stringify(check)}, node:http ${JSON.stringify(request)}`)
  }
  t.ok(accepted > 100, `enough mutations still read as checks to compare (${accepted})`)
  t.ok(accepted < heads.length, 'and some not')
})
