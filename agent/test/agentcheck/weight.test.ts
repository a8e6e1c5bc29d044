import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { WeightController } from '../../src/agentcheck/weight.js'
import { WeightFile } from '../../src/agentcheck/weight-file.js'
import { AuditLog } from '../../src/state/audit.js'
import { StateStore } from '../../src/state/store.js'
import { tempDir } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const silent = pino({ level: 'silent' })
const ramp = { startPercent: 10, durationMs: 2000, steps: 4 }

function setup(t: Parameters<typeof tempDir>[0], dir = tempDir(t)) {
  const clock = { now: Date.parse('2026-11-26T10:00:00.000Z') }
  const audit = new AuditLog(join(dir, 'audit.log'))
  audit.open()
  const weight = new WeightController({ ramp, file: join(dir, 'weight.json'), audit, logger: silent, now: () => clock.now })
  t.teardown(() => {
    weight.close()
    audit.close()
  })
  const auditLines = () =>
    readFileSync(join(dir, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  return { dir, clock, audit, weight, auditLines, file: join(dir, 'weight.json') }
}

t.test('a ramp starts when the server becomes ready again and follows the clock', async (t) => {
  const { clock, weight } = setup(t)
  t.same(weight.current('ready'), { percent: 100, source: 'full', note: null }, 'no ramp until told')
  weight.onEffectiveState('ready', 'drain')
  t.same(
    weight.current('drain'),
    { percent: 10, source: 'ramp-pending', note: null },
    'not ready: the answer already carries the start weight',
  )
  weight.onEffectiveState('drain', 'ready')
  const seen: Array<[number, number, string]> = []
  for (const at of [0, 499, 500, 1000, 1500, 1999, 2000, 5000]) {
    const start = Date.parse('2026-11-26T10:00:00.000Z')
    clock.now = start + at
    const w = weight.current('ready')
    seen.push([at, w.percent, w.source])
  }
  t.same(seen, [
    [0, 10, 'ramp'],
    [499, 10, 'ramp'],
    [500, 33, 'ramp'],
    [1000, 55, 'ramp'],
    [1500, 78, 'ramp'],
    [1999, 78, 'ramp'],
    [2000, 100, 'full'],
    [5000, 100, 'full'],
  ])
  t.equal(weight.status('ready').ramp, null, 'a finished ramp is not shown')
})

t.test('ramp status shows step and progress; leaving ready stops the ramp', async (t) => {
  const { clock, weight } = setup(t)
  weight.onEffectiveState('down', 'ready')
  clock.now += 1000
  t.match(weight.status('ready'), {
    percent: 55,
    source: 'ramp',
    ramp: { startedAt: '2026-11-26T10:00:00.000Z', endsAt: '2026-11-26T10:00:02.000Z', startPercent: 10, step: 2, steps: 4, progress: 0.5 },
    override: null,
    settings: ramp,
    file: { ok: true, problem: null },
  })
  weight.onEffectiveState('ready', 'down')
  t.equal(weight.status('down').ramp, null)
  t.equal(weight.current('down').percent, 10)
  weight.startRamp('Tomcat restarted')
  t.equal(weight.current('ready').source, 'ramp', 'startRamp() is there for a restart seen behind a steady ready')
})

t.test('the agent starting ramps a ready server (it may be a cold JVM after a reboot), not a drained one', async (t) => {
  const first = setup(t)
  first.weight.onAgentStart('ready')
  t.equal(first.weight.current('ready').source, 'ramp')
  const second = setup(t)
  second.weight.onAgentStart('drain')
  t.equal(second.weight.status('drain').ramp, null)
  t.equal(second.weight.current('drain').source, 'ramp-pending')
})

t.test('no ramp configured: always 100%', async (t) => {
  const dir = tempDir(t)
  const audit = new AuditLog(join(dir, 'audit.log'))
  const weight = new WeightController({ ramp: { ...ramp, durationMs: 0 }, file: join(dir, 'w.json'), audit, logger: silent })
  weight.onEffectiveState('drain', 'ready')
  t.same(weight.current('ready'), { percent: 100, source: 'full', note: null })
  t.same(weight.current('drain'), { percent: 100, source: 'full', note: null })
})

t.test('an override wins over the ramp, is written to its file, audited, and survives a restart', async (t) => {
  const { dir, clock, weight, auditLines, file } = setup(t)
  weight.onEffectiveState('drain', 'ready')
  const override = await weight.setOverride({ percent: 50, expiresInSeconds: 600, reason: 'canary', by: 'alice' })
  t.same(override, { percent: 50, until: '2026-11-26T10:10:00.000Z', reason: 'canary', by: 'alice', since: '2026-11-26T10:00:00.000Z' })
  t.same(weight.current('ready'), { percent: 50, source: 'override', note: 'weight override until 2026-11-26T10:10:00.000Z: canary' })
  t.equal(weight.current('drain').percent, 50, 'the override is also what a return to ready starts at')
  t.same(JSON.parse(readFileSync(file, 'utf8')), override)
  t.match(auditLines().at(-1), {
    kind: 'weight',
    from: null,
    to: '50%',
    until: '2026-11-26T10:10:00.000Z',
    source: 'api',
    reason: 'canary',
    by: 'alice',
  })

  const again = setup(t, dir)
  again.clock.now = clock.now + 60_000
  await again.weight.load()
  t.same(again.weight.status('ready').override, override, 'a new agent on the same files keeps the override')

  const cleared = await again.weight.clearOverride({ by: 'bob' })
  t.same(cleared, override)
  t.notOk(existsSync(file), 'clearing removes the file')
  t.match(auditLines().at(-1), { kind: 'weight', from: '50%', to: null, source: 'api', by: 'bob' })
  t.equal(await again.weight.clearOverride(), null, 'clearing nothing is not an error')
  t.equal(auditLines().filter((e) => e.kind === 'weight').length, 2, '...and is not audited')
})

t.test('an override that expired while the agent was stopped ends at load, audited', async (t) => {
  const { dir, clock, weight, auditLines, file } = setup(t)
  await weight.setOverride({ percent: 30, expiresInSeconds: 60 })
  const later = setup(t, dir)
  later.clock.now = clock.now + 61_000
  await later.weight.load()
  t.equal(later.weight.status('ready').override, null)
  t.equal(later.weight.current('ready').percent, 100)
  t.notOk(existsSync(file))
  t.match(auditLines().at(-1), { kind: 'weight', from: '30%', to: null, source: 'expired' })
})

t.test('an expired override that cannot be removed at load is reported, not fatal', async (t) => {
  const { dir, clock, weight, file } = setup(t)
  await weight.setOverride({ percent: 30, expiresInSeconds: 60 })
  const later = setup(t, dir)
  later.clock.now = clock.now + 61_000
  const remove = WeightFile.prototype.remove
  WeightFile.prototype.remove = () => Promise.reject(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))
  t.teardown(() => {
    WeightFile.prototype.remove = remove
  })
  await later.weight.load()
  const status = later.weight.status('ready')
  t.equal(status.override, null, 'not applied')
  t.equal(later.weight.current('ready').percent, 100)
  t.match(status.file, { ok: false, problem: /cannot remove the expired override: EACCES/ })
  t.ok(existsSync(file), 'the file is still there')
})

t.test('an override expires by itself', async (t) => {
  const dir = tempDir(t)
  const audit = new AuditLog(join(dir, 'audit.log'))
  const weight = new WeightController({ ramp, file: join(dir, 'weight.json'), audit, logger: silent })
  t.teardown(() => {
    weight.close()
    audit.close()
  })
  await weight.setOverride({ percent: 40, expiresInSeconds: 1 })
  t.equal(weight.current('ready').percent, 40)
  // The file goes first, then the audit entry: wait for the last step.
  await waitFor('the expiry audited', () => readFileSync(join(dir, 'audit.log'), 'utf8').includes('"source":"expired"'), {
    timeoutMs: 5000,
  })
  t.notOk(existsSync(join(dir, 'weight.json')), 'the override file is removed')
  t.equal(weight.current('ready').percent, 100)
})

t.test('a bad weight file is reported and ignored, never fatal', async (t) => {
  const { weight, file } = setup(t)
  for (const text of [
    '{"percent":',
    '{"percent":0,"until":null,"since":"2026-11-26T10:00:00.000Z"}',
    '[1]',
    '{"percent":50,"until":"soon","since":"2026-11-26T10:00:00.000Z"}',
  ]) {
    writeFileSync(file, text)
    await weight.load()
    const status = weight.status('ready')
    t.equal(status.override, null, `${text}: no override`)
    t.equal(status.file.ok, false, `${text}: reported`)
    t.match(status.file.problem, /weight file .*weight\.json: /)
  }
  await weight.setOverride({ percent: 20 })
  t.equal(weight.status('ready').file.ok, true, 'a new override rewrites the file and clears the problem')
})

t.test('invalid overrides are refused before anything is written', async (t) => {
  const { weight, file } = setup(t)
  t.throws(() => weight.setOverride({ percent: 0 }), { code: 'AGENT_ERR_BAD_REQUEST' })
  t.throws(() => weight.setOverride({ percent: 101 }), { code: 'AGENT_ERR_BAD_REQUEST' })
  t.throws(() => weight.setOverride({ percent: 50, expiresInSeconds: 0 }), { code: 'AGENT_ERR_BAD_REQUEST' })
  t.notOk(existsSync(file))
})

t.test('a weight entry is never taken for a state when the state file is restored from the audit log', async (t) => {
  const { dir, weight, audit } = setup(t)
  audit.append({ time: new Date().toISOString(), from: 'ready', to: 'drain', source: 'api', reason: 'deploy', by: 'alice' })
  await weight.setOverride({ percent: 50 })
  await weight.clearOverride()
  t.match(audit.lastEntry(), { to: 'drain', reason: 'deploy' })
  const store = new StateStore({ path: join(dir, 'state'), initialState: 'ready', pollMs: 5000, audit, logger: silent })
  t.teardown(() => store.close())
  await store.start()
  t.equal(store.current?.state, 'drain', 'the missing state file is restored to the last state, not to a weight')
})
