import t from 'tap'
import { accessLineParser } from '../../src/tomcat/access-pattern.js'

// The pattern the Tomcat test helper writes, as in server.xml.
const HELPER = '%h %t &quot;%r&quot; %s %b %D &quot;%{User-Agent}i&quot;'

t.test('the lines Tomcat 10 writes with the helper pattern', async (t) => {
  const parse = accessLineParser(HELPER)
  t.same(parse('127.0.0.1 [30/Nov/2026:04:50:01 +0000] "GET /app/ HTTP/1.1" 200 12 1534 "curl/8.0"'), { status: 200, seconds: 0.001534 })
  t.same(parse('::1 [30/Nov/2026:04:50:01 +0000] "POST /app/x?a=\\"b c\\" HTTP/1.1" 503 - 250000 "Mozilla/5.0 (X11; Linux)"'), {
    status: 503,
    seconds: 0.25,
  })
  t.same(parse('10.0.0.1 [30/Nov/2026:04:50:01 +0000] "-" 400 - 0 "-"'), { status: 400, seconds: 0 })
})

t.test('aliases and time units', async (t) => {
  t.throws(() => accessLineParser('common'), /time taken/)
  t.throws(() => accessLineParser('combined'), /time taken/)
  const line = '1.2.3.4 - - [30/Nov/2026:04:50:01 +0000] "GET / HTTP/1.1" 404 5'
  t.same(accessLineParser('%h %l %u %t "%r" %s %b %D')(`${line} 2000`), { status: 404, seconds: 0.002 })
  t.same(accessLineParser('%h %l %u %t "%r" %s %b %T')(`${line} 3`), { status: 404, seconds: 3 })
  t.same(accessLineParser('%h %l %u %t "%r" %s %b %{ms}T')(`${line} 40`), { status: 404, seconds: 0.04 })
  t.same(accessLineParser('%h %l %u %t "%r" %s %b %{us}T')(`${line} 40`), { status: 404, seconds: 0.00004 })
  t.same(accessLineParser('%h %l %u %t "%r" %s %b %F')(`${line} 7`), { status: 404, seconds: 0.007 })
  t.same(accessLineParser('%s %D %{X-Version}o')('200 10 v2 build 7'), { status: 200, seconds: 0.00001 })
})

t.test('a line not in the pattern is null, never a throw', async (t) => {
  const parse = accessLineParser(HELPER)
  for (const bad of [
    '',
    'garbage',
    '127.0.0.1 [30/Nov/2026:04:50:01 +0000] "GET / HTTP/1.1" 2000 12 15 "x"',
    '127.0.0.1 [30/Nov/2026:04:50:01 +0000] "GET / HTTP/1.1" 200 12 -15 "x"',
    '127.0.0.1 [30/Nov/2026:04:50:01 +0000] "GET / HTTP/1.1" 200 12 abc "x"',
    '127.0.0.1 [30/Nov/2026:04:50:01 +0000] "GET / HTTP/1.1" 200 12 15 "x" trailing',
    '\u0000\uffff',
  ]) {
    t.equal(parse(bad), null, JSON.stringify(bad))
  }
})

t.test('a hostile line costs linear time', async (t) => {
  const parse = accessLineParser(HELPER)
  const line = `1 [x] "${'\\"'.repeat(8000)} 200 1 1 "${'" "'.repeat(3000)}`
  const started = process.hrtime.bigint()
  t.equal(parse(line), null)
  t.ok(Number(process.hrtime.bigint() - started) / 1e6 < 200, 'parsed in well under 200 ms')
})

t.test('unusable patterns say why', async (t) => {
  t.throws(() => accessLineParser('%h %D'), /no %s/)
  t.throws(() => accessLineParser('%h %s'), /no time taken/)
  t.throws(() => accessLineParser('%s %D %Z'), /unknown code %Z/)
  t.throws(() => accessLineParser('%s %{hours}T'), /unknown time unit/)
})
