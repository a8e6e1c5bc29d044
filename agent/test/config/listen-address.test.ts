import t from 'tap'
import { formatListenAddress, isLoopbackHost, parseListenAddress } from '../../src/config/listen-address.js'

t.test('parses the listen forms', async (t) => {
  t.same(parseListenAddress('0.0.0.0:9990'), { kind: 'tcp', host: '0.0.0.0', port: 9990 })
  t.same(parseListenAddress('localhost:0'), { kind: 'tcp', host: 'localhost', port: 0 })
  t.same(parseListenAddress('[::1]:9991'), { kind: 'tcp', host: '::1', port: 9991 })
  t.same(parseListenAddress('unix:/run/agent.sock'), { kind: 'unix', path: '/run/agent.sock' })
  for (const bad of ['', '9990', ':9990x', 'host:', 'host:65536', '::1:9990', 'unix:', 'a b:1']) {
    t.equal(parseListenAddress(bad), null, JSON.stringify(bad))
  }
})

t.test('formats back and knows loopback', async (t) => {
  t.equal(formatListenAddress({ kind: 'tcp', host: '::1', port: 1 }), '[::1]:1')
  t.equal(formatListenAddress({ kind: 'unix', path: '/x' }), 'unix:/x')
  t.ok(isLoopbackHost('127.0.0.1'))
  t.ok(isLoopbackHost('127.1.2.3'))
  t.ok(isLoopbackHost('::1'))
  t.notOk(isLoopbackHost('0.0.0.0'))
  t.notOk(isLoopbackHost('10.0.0.1'))
})
