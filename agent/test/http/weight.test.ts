import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { weightPercent, WeightRequestSchema, type WeightRequest } from '../../src/protocol/requests.js'
import { validateRequest } from '../../src/protocol/validate.js'
import type { AgentStatus } from '../../src/protocol/status.js'
import { startAgent, tempDir } from '../helpers/agent.js'

const flags = { agentCheckListen: '127.0.0.1:0', weightRampMs: '0' }
/** node:http sends a DELETE body with neither Content-Length nor chunking unless told. */
const sized = (body: unknown) => ({ 'content-length': String(Buffer.byteLength(JSON.stringify(body))) })

t.test('PUT /v1/weight sets an override that the agent check reports; DELETE clears it', async (t) => {
  const running = await startAgent(t, flags)
  const before = Date.now()
  const set = await running.admin('PUT', '/v1/weight', { weight: '50%', expiresInSeconds: 600, reason: 'canary', by: 'alice' })
  t.equal(set.status, 200, set.body)
  const status = JSON.parse(set.body) as AgentStatus
  t.match(status.weight, { percent: 50, source: 'override', override: { percent: 50, reason: 'canary', by: 'alice' } })
  const until = Date.parse(status.weight.override?.until ?? '')
  t.ok(until >= before + 600_000 && until <= Date.now() + 600_000, 'expires 600 s from now')
  t.match(status.agentCheck.reply, /^ready up 50% #weight override until \S+: canary$/)
  t.same(JSON.parse(readFileSync(running.agent.core.config.weightFile, 'utf8')), status.weight.override)

  t.equal((await running.admin('PUT', '/v1/weight', { weight: 75 })).status, 200, 'a bare number is a percentage too')
  t.equal(running.agent.core.status().weight.override?.until, null, 'no expiry: until cleared')

  const cleared = await running.admin(
    'DELETE',
    '/v1/weight',
    { reason: 'canary over', by: 'bob' },
    sized({ reason: 'canary over', by: 'bob' }),
  )
  t.equal(cleared.status, 200, cleared.body)
  t.match(JSON.parse(cleared.body), { weight: { percent: 100, source: 'full', override: null } })
  t.notOk(existsSync(running.agent.core.config.weightFile))
  t.equal((await running.admin('DELETE', '/v1/weight')).status, 200, 'DELETE without a body, nothing to clear')

  const audit = readFileSync(running.agent.core.config.auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(
    audit.filter((e) => e.kind === 'weight'),
    [
      { from: null, to: '50%', source: 'api', reason: 'canary', by: 'alice' },
      { from: '50%', to: '75%', source: 'api' },
      { from: '75%', to: null, source: 'api', reason: 'canary over', by: 'bob' },
    ],
  )
})

t.test('the override survives an agent restart', async (t) => {
  const dir = tempDir(t)
  const first = await startAgent(t, flags, dir)
  t.equal((await first.admin('PUT', '/v1/weight', { weight: '30%', expiresInSeconds: 3600 })).status, 200)
  await first.agent.close()
  const second = await startAgent(t, flags, dir)
  t.match(second.agent.core.status().weight, { percent: 30, source: 'override', override: { percent: 30 } })
  t.match(second.agent.core.status().agentCheck.reply, /^ready up 30% /)
})

t.test('bad requests are refused with a message naming the problem, and nothing is written', async (t) => {
  const running = await startAgent(t, flags)
  const cases: Array<[unknown, RegExp]> = [
    [{ weight: '0%' }, /expected 1% to 100%.*use agentctl drain/],
    [{ weight: '101%' }, /expected 1% to 100%/],
    [{ weight: 'half' }, /"weight": expected 1% to 100% such as "50%", got "half"/],
    [{ weight: 12.5 }, /expected 1% to 100%/],
    [{}, /"weight" is missing/],
    [{ weight: '50%', expiresInSeconds: 0 }, /"expiresInSeconds": expected an integer from 1 to 604800/],
    [{ weight: '50%', expiresInSeconds: '600' }, /"expiresInSeconds"/],
    [{ weight: '50%', until: 'tomorrow' }, /unknown field "until"/],
    [{ weight: '50%', reason: 'two\nlines' }, /control characters/],
    [[50], /expected a JSON object/],
  ]
  for (const [body, message] of cases) {
    const response = await running.admin('PUT', '/v1/weight', body)
    t.equal(response.status, 400, JSON.stringify(body))
    t.match(JSON.parse(response.body), { error: 'AGENT_ERR_BAD_REQUEST', message }, JSON.stringify(body))
  }
  t.equal(
    (await running.admin('DELETE', '/v1/weight', { weight: '50%' }, sized({ weight: '50%' }))).status,
    400,
    'DELETE takes reason and by only',
  )
  t.notOk(existsSync(running.agent.core.config.weightFile))
  t.equal((await running.admin('PUT', '/v1/weight', { weight: '50%' }, { authorization: 'Bearer wrong' })).status, 401, 'token required')
  t.notOk(existsSync(running.agent.core.config.weightFile))
})

const parsePercent = (weight: unknown) => weightPercent(validateRequest<WeightRequest>(WeightRequestSchema, { weight }).weight)

t.test('percentages', async (t) => {
  t.equal(parsePercent('50%'), 50)
  t.equal(parsePercent(' 100% '), 100)
  t.equal(parsePercent(1), 1)
  t.throws(() => parsePercent('50 %'))
  t.throws(() => parsePercent('-5%'))
  t.throws(() => parsePercent(null))
})
