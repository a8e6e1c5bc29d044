import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ManagerClient, parseSessionsText, parseStatusXml } from '../../src/tomcat/manager.js'
import { tempDir } from '../helpers/agent.js'
import { closedPort, startHttpServer } from '../helpers/http-server.js'
import { sessionsText, statusXml } from '../helpers/manager-fixtures.js'

t.test('parses busy threads per connector from the status XML', async (t) => {
  t.same(parseStatusXml(statusXml([3, 1])), [
    { name: 'http-nio-127.0.0.1-8080', busy: 3, max: 200 },
    { name: 'http-nio-127.0.0.1-8443', busy: 1, max: 200 },
  ])
  t.same(parseStatusXml('<html>login</html>'), [])
})

t.test('sums the session histogram of the sessions command', async (t) => {
  t.equal(parseSessionsText(sessionsText('/app', [3, 0, 2])), 5)
  t.equal(parseSessionsText(sessionsText('/app', [])), 0)
  t.equal(
    parseSessionsText(
      'OK - Session information for application at context path [/app]\nDefault maximum session inactive interval is [30] minutes\nUnlimited time: [4] sessions\n',
    ),
    4,
  )
  t.throws(
    () => parseSessionsText('FAIL - No context exists named [/nope]\n'),
    /manager answered: FAIL - No context exists named \[\/nope\]/,
  )
})

t.test('the client reads threads and sessions with the credentials of the file', async (t) => {
  const dir = tempDir(t)
  const credentialsFile = join(dir, 'manager-credentials')
  writeFileSync(credentialsFile, 'probe:s3cr3t:with-colon\n', { mode: 0o600 })
  const server = await startHttpServer(t, (req, res) => {
    if (req.headers.authorization !== `Basic ${Buffer.from('probe:s3cr3t:with-colon').toString('base64')}`) {
      res.statusCode = 401
      return res.end()
    }
    if (req.url === '/manager/status?XML=true') return res.end(statusXml([3, 0]))
    if (req.url === '/manager/text/sessions?path=%2Fapp') return res.end(sessionsText('/app', [2, 1]))
    res.end('FAIL - No context exists named [/other]\n')
  })
  const client = new ManagerClient({
    url: server.url('/manager'),
    credentialsFile,
    contexts: ['/app', '/other'],
    pollMs: 1000,
    timeoutMs: 1000,
  })
  const signals = await client.read()
  t.match(signals, {
    busyThreads: 2,
    sessions: { '/app': 3 },
    at: String,
    error: /sessions of \/other: manager answered: FAIL - No context/,
  })
  t.equal(server.requests[0]?.headers['accept-language'], 'en', 'asks for the English messages the parser reads')

  writeFileSync(credentialsFile, 'probe:wrong\n')
  const refused = await client.read()
  t.match(refused, { busyThreads: null, sessions: null, error: /HTTP 401: the manager refused the credentials/ })
  t.notMatch(JSON.stringify(refused), /wrong|s3cr3t/, 'the password never shows')
})

t.test('a missing or malformed credentials file is an error that never shows the content', async (t) => {
  const dir = tempDir(t)
  const server = await startHttpServer(t, (_, res) => res.end())
  const missing = new ManagerClient({
    url: server.url('/manager'),
    credentialsFile: join(dir, 'nope'),
    contexts: ['/app'],
    pollMs: 1000,
    timeoutMs: 1000,
  })
  t.match(await missing.read(), { busyThreads: null, error: `cannot read the manager credentials file ${join(dir, 'nope')}: ENOENT` })
  const file = join(dir, 'bad')
  writeFileSync(file, 'justapassword\n')
  const bad = new ManagerClient({ url: server.url('/manager'), credentialsFile: file, contexts: ['/app'], pollMs: 1000, timeoutMs: 1000 })
  const signals = await bad.read()
  t.match(signals.error, /expected USER:PASSWORD on its first line/)
  t.notMatch(signals.error, /justapassword/)
  t.equal(server.requests.length, 0, 'nothing is sent without credentials')
})

t.test('an unreachable manager is an error, not a crash', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'creds')
  writeFileSync(file, 'u:p\n')
  const client = new ManagerClient({
    url: `http://127.0.0.1:${await closedPort()}/manager`,
    credentialsFile: file,
    contexts: ['/app'],
    pollMs: 1000,
    timeoutMs: 1000,
  })
  t.match(await client.read(), { busyThreads: null, sessions: null, error: /connection refused/ })
})
