import { readFileSync } from 'node:fs'
import t from 'tap'
import { startAgent, type RunningAgent } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

function files(running: RunningAgent) {
  return {
    state: readFileSync(running.agent.core.config.stateFile, 'utf8'),
    audit: readFileSync(running.agent.core.config.auditFile, 'utf8'),
  }
}

t.test('GET /v1/status describes the effective and admin state, the state file and versions', async (t) => {
  const running = await startAgent(t)
  const res = await running.admin('GET', '/v1/status')
  t.equal(res.status, 200)
  const status = JSON.parse(res.body)
  t.match(status, {
    agent: { name: 'tomcat-health-agent', version: /^\d+\.\d+\.\d+/, node: process.version, pid: process.pid },
    effective: { state: 'ready', httpStatus: 200, cause: 'admin', why: null },
    admin: { state: 'ready', reason: 'initial state', by: 'health-agent', since: /^\d{4}-\d\d-\d\dT/ },
    stateFile: { path: running.agent.core.config.stateFile, ok: true, problem: null },
    checkPath: '/health',
  })
})

t.test('PUT /v1/state writes the file, audits the change and answers the new status', async (t) => {
  const running = await startAgent(t)
  const res = await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'deploy v42', by: 'alice' })
  t.equal(res.status, 200)
  t.match(JSON.parse(res.body), {
    effective: { state: 'drain', httpStatus: 404 },
    admin: { state: 'drain', reason: 'deploy v42', by: 'alice' },
  })
  t.equal((await running.check()).status, 404)
  t.match(readFileSync(running.agent.core.config.stateFile, 'utf8'), /^drain reason="deploy v42" by=alice since=/)
  const last = JSON.parse(files(running).audit.trim().split('\n').at(-1) as string)
  t.match(last, { from: 'ready', to: 'drain', source: 'api', reason: 'deploy v42', by: 'alice' })
})

t.test('a missing or wrong token gets 401 on every route, is logged, and writes nothing', async (t) => {
  const running = await startAgent(t)
  const before = files(running)
  const cases: Array<[string, Record<string, string>]> = [
    ['no header', {}],
    ['wrong token', { authorization: 'Bearer not-the-token-0123456789' }],
    ['token without Bearer', { authorization: running.token }],
    ['basic auth', { authorization: `Basic ${Buffer.from(`x:${running.token}`).toString('base64')}` }],
  ]
  for (const [name, headers] of cases) {
    for (const [method, path] of [
      ['GET', '/v1/status'],
      ['PUT', '/v1/state'],
      ['GET', '/nope'],
    ]) {
      const res = await httpRequest(`${running.adminUrl}${path}`, {
        method: method as string,
        headers: { 'content-type': 'application/json', ...headers },
        body: method === 'PUT' ? '{"state":"down"}' : undefined,
      })
      t.equal(res.status, 401, `${name}: ${method} ${path}`)
      t.equal(res.headers['www-authenticate'], 'Bearer realm="health-agent"')
      t.match(JSON.parse(res.body), { error: 'AGENT_ERR_UNAUTHORIZED' })
    }
  }
  t.same(files(running), before, 'nothing written')
  t.equal((await running.check()).status, 200)
  const refusals = running.logLines().filter((l) => l.code === 'AGENT_ERR_UNAUTHORIZED')
  t.equal(refusals.length, cases.length * 3, 'every refusal logged')
  t.match(refusals[0], { remote: '127.0.0.1', method: 'GET', url: '/v1/status', msg: /admin call refused: missing Authorization/ })
})

t.test('bad requests get 400 with a message naming the problem, and write nothing', async (t) => {
  const running = await startAgent(t)
  const before = files(running)
  const cases: Array<[string, string | unknown, Record<string, string>, RegExp]> = [
    ['unknown state', { state: 'maintenance' }, {}, /^"state": expected one of ready, drain, down, got "maintenance"$/],
    ['missing state', { reason: 'x' }, {}, /"state" is missing/],
    ['state of the wrong type', { state: 1 }, {}, /^"state": expected one of ready, drain, down, got 1$/],
    ['unknown field', { state: 'drain', weight: 5 }, {}, /unknown field "weight"/],
    ['reason not a string', { state: 'drain', reason: 5 }, {}, /"reason": expected a string, got number/],
    [
      'reason with a line break',
      { state: 'drain', reason: 'a\nready' },
      {},
      /^"reason": expected text without control characters \(line breaks, tabs\), at most 500 characters, got "a\\nready"$/,
    ],
    ['reason too long', { state: 'drain', reason: 'x'.repeat(501) }, {}, /"reason": expected at most 500 characters, got 501/],
    ['bad JSON', '{"state": "drain"', {}, /invalid request body/],
    ['an array', '["drain"]', {}, /expected a JSON object/],
    ['empty body', '', {}, /empty body/],
    ['oversized body', JSON.stringify({ state: 'drain', reason: 'x'.repeat(20_000) }), {}, /request body larger than 16384 bytes/],
    ['not JSON', 'state=drain', { 'content-type': 'application/x-www-form-urlencoded' }, /expected Content-Type: application\/json/],
  ]
  for (const [name, body, headers, message] of cases) {
    const res = await running.admin('PUT', '/v1/state', body, headers)
    t.equal(res.status, 400, name)
    const parsed = JSON.parse(res.body)
    t.equal(parsed.error, 'AGENT_ERR_BAD_REQUEST', `${name} code`)
    t.match(parsed.message, message, `${name} message`)
  }
  t.same(files(running), before, 'nothing written')
  await waitFor('refusals logged', () => running.logLines().filter((l) => l.code === 'AGENT_ERR_BAD_REQUEST').length === cases.length)
  t.pass()
})

t.test('the admin listener is separate from the health listener', async (t) => {
  const running = await startAgent(t)
  t.not(running.adminPort, running.healthPort)
  const res = await httpRequest(`${running.adminUrl}/health`, { headers: { authorization: `Bearer ${running.token}` } })
  t.equal(res.status, 404, 'no check path on the admin listener')
})

t.test('the admin API on a Unix socket', async (t) => {
  const { tempDir } = await import('../helpers/agent.js')
  const dir = tempDir(t)
  const running = await startAgent(t, { adminListen: `unix:${dir}/admin.sock` }, dir)
  const { request } = await import('node:http')
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { socketPath: `${dir}/admin.sock`, path: '/v1/status', headers: { authorization: `Bearer ${running.token}` } },
      (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      },
    )
    req.on('error', reject)
    req.end()
  })
  t.equal(status, 200)
})
