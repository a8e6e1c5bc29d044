import {
  appendFileSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  closeSync,
  writeSync,
  ftruncateSync,
} from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { AuditLog, type AuditEntry } from '../../src/state/audit.js'
import { StateStore } from '../../src/state/store.js'
import type { AdminState } from '../../src/state/model.js'
import { tempDir } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

const silent = pino({ level: 'silent' })

async function openStore(t: Parameters<typeof tempDir>[0], dir: string, initialState: AdminState = 'ready') {
  const audit = new AuditLog(join(dir, 'audit.log'))
  audit.open()
  const store = new StateStore({ path: join(dir, 'state'), initialState, pollMs: 5000, audit, logger: silent })
  t.teardown(async () => {
    await store.close()
    audit.close()
  })
  await store.start()
  return { store, audit, path: join(dir, 'state') }
}

function auditEntries(dir: string): AuditEntry[] {
  return readFileSync(join(dir, 'audit.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEntry)
}

/** pollMs is 5 s in these tests: a wait shorter than that proves the file-system events did the work. */
const viaEvents = { timeoutMs: 2000 }

const stateIs = (store: StateStore, state: AdminState) => () => store.current?.state === state

t.test('first start without a file writes the initial state and audits it', async (t) => {
  const dir = tempDir(t)
  const { store, path } = await openStore(t, dir, 'drain')
  t.equal(store.current?.state, 'drain')
  t.match(readFileSync(path, 'utf8'), /^drain reason="initial state" by=health-agent since=\S+\n$/)
  t.match(auditEntries(dir), [{ from: null, to: 'drain', source: 'initial' }])
})

t.test('every kind of file write is picked up', async (t) => {
  const dir = tempDir(t)
  const { store, path } = await openStore(t, dir)

  writeFileSync(path, 'drain\n') // truncate-then-write, as `echo drain > state`
  await waitFor('truncate-then-write', stateIs(store, 'drain'), viaEvents)

  const fd = openSync(path, 'r+') // in place, no truncation: same length
  writeSync(fd, 'down!\n'.replace('!', ' '), 0)
  closeSync(fd)
  await waitFor('in-place write', stateIs(store, 'down'), viaEvents)

  writeFileSync(join(dir, 'state.new'), 'ready reason="rename over"\n')
  renameSync(join(dir, 'state.new'), path) // rename over, as editors and `mv` do
  await waitFor('rename over', stateIs(store, 'ready'), viaEvents)
  t.equal(store.current?.reason, 'rename over')

  rmSync(path)
  await waitFor('deletion reported', () => store.problem?.kind === 'missing', viaEvents)
  t.equal(store.current?.state, 'ready', 'deletion keeps the last good state')
  writeFileSync(path, 'drain reason=recreated\n')
  await waitFor('recreate', stateIs(store, 'drain'), viaEvents)
  t.equal(store.problem, null, 'problem cleared once the file is good again')

  t.match(
    auditEntries(dir).map((e) => [e.from, e.to, e.source]),
    [
      [null, 'ready', 'initial'],
      ['ready', 'drain', 'file'],
      ['drain', 'down', 'file'],
      ['down', 'ready', 'file'],
      ['ready', 'drain', 'file'],
    ],
  )
})

t.test("the file is still watched after hundreds of replacements by the agent's own writes", async (t) => {
  // Each API change replaces the file by rename. A watch on the file itself followed the inode and
  // was left on a deleted one after a few hundred quick changes: shell writes then waited for the poll.
  const dir = tempDir(t)
  const { store, path } = await openStore(t, dir)
  for (let i = 0; i < 300; i++) await store.set({ state: i % 2 === 0 ? 'drain' : 'ready' }, 'api')
  writeFileSync(path, 'down\n')
  await waitFor('a shell write after 300 API changes', stateIs(store, 'down'), viaEvents)
  writeFileSync(path, 'drain\n')
  await waitFor('and the next one', stateIs(store, 'drain'), viaEvents)
})

t.test('garbage, empty and half-written files keep the last good state and are reported', async (t) => {
  const dir = tempDir(t)
  const { store, path } = await openStore(t, dir)
  writeFileSync(path, 'drain\n')
  await waitFor('drain', stateIs(store, 'drain'), viaEvents)

  for (const [text, kind] of [
    ['garbage\n', 'invalid'],
    ['', 'empty'],
    ['rea', 'invalid'],
    ['ready reason="half', 'invalid'],
  ] as const) {
    writeFileSync(path, text)
    await waitFor(`problem for ${JSON.stringify(text)}`, () => store.problem?.kind === kind && store.problem.message, viaEvents)
    t.equal(store.current?.state, 'drain', `${JSON.stringify(text)} keeps drain`)
  }
  const fd = openSync(path, 'r+')
  ftruncateSync(fd, 0)
  closeSync(fd)
  appendFileSync(path, 'ready\n')
  await waitFor('good file again', stateIs(store, 'ready'), viaEvents)
  t.equal(store.problem, null)
})

t.test('a polling fallback catches writes even without file-system events', async (t) => {
  const dir = tempDir(t)
  const audit = new AuditLog(join(dir, 'audit.log'))
  const store = new StateStore({ path: join(dir, 'state'), initialState: 'ready', pollMs: 50, audit, logger: silent })
  t.teardown(() => store.close())
  await store.start()
  // Stop the watcher: only the poller is left to notice the change.
  await (store as unknown as { watcher: { close(): Promise<void> } }).watcher.close()
  writeFileSync(join(dir, 'state'), 'down\n')
  await waitFor('poll notices the write', stateIs(store, 'down'))
  t.pass()
})

t.test('API writes are atomic, applied at once and survive a restart', async (t) => {
  const dir = tempDir(t)
  const first = await openStore(t, dir)
  const written = await first.store.set({ state: 'drain', reason: 'deploy v42', by: 'alice' })
  t.equal(written.state, 'drain')
  t.equal(first.store.current?.state, 'drain', 'applied before set() resolves')
  t.match(readFileSync(first.path, 'utf8'), /^drain reason="deploy v42" by=alice since=\S+\n$/)
  t.same(readFileSync(first.path, 'utf8').length > 0 && existsSync(join(dir, 'state')), true)
  const since = first.store.current?.since
  await first.store.set({ state: 'drain', reason: 'deploy v43' })
  t.equal(first.store.current?.since, since, 'a new reason for the same state keeps since')
  await first.store.close()

  const second = await openStore(t, dir)
  t.same(
    { state: second.store.current?.state, reason: second.store.current?.reason, since: second.store.current?.since },
    { state: 'drain', reason: 'deploy v43', since },
    'a restarted store reads the state back',
  )
  const sources = auditEntries(dir).map((e) => e.source)
  t.same(sources, ['initial', 'api', 'api'], 'a restart is not a change')
})

t.test('a deleted file at restart is restored from the audit log, not reset to the initial state', async (t) => {
  const dir = tempDir(t)
  const first = await openStore(t, dir, 'ready')
  await first.store.set({ state: 'down', reason: 'maintenance' })
  await first.store.close()
  rmSync(first.path)

  const second = await openStore(t, dir, 'ready')
  t.equal(second.store.current?.state, 'down')
  t.equal(second.store.current?.reason, 'maintenance')
  t.match(readFileSync(second.path, 'utf8'), /^down reason=maintenance/)
  t.equal(auditEntries(dir).at(-1)?.source, 'restored')
})

t.test('an unusable file at start gives no state (the agent answers down) until it is fixed', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'state'), 'readyy\n')
  const { store, path } = await openStore(t, dir)
  t.equal(store.current, null)
  t.equal(store.problem?.kind, 'invalid')
  writeFileSync(path, 'ready\n')
  await waitFor('fixed file', stateIs(store, 'ready'))
  t.equal(store.problem, null)
})

t.test('drain and down apply before the write is on disk, and are taken back if it fails; ready waits for the write', async (t) => {
  const { chmodSync } = await import('node:fs')
  const dir = tempDir(t)
  const { store } = await openStore(t, dir)
  const seen: string[] = []
  const onDisk: string[] = []
  store.on('change', (c) => {
    seen.push(`${c.to.state}:${c.source}`)
    let onDiskNow = 'nothing readable'
    try {
      onDiskNow = readFileSync(join(dir, 'state'), 'utf8').split(' ')[0] as string
    } catch {
      // the state file made a folder, below
    }
    onDisk.push(`${c.to.state} when the file said ${onDiskNow}`)
  })
  await store.set({ state: 'drain' })
  await store.set({ state: 'ready' })
  await store.set({ state: 'drain' })
  t.same(
    onDisk,
    ['drain when the file said ready', 'ready when the file said ready', 'drain when the file said ready'],
    'drain applies before the file says so, ready only after',
  )
  seen.length = 0

  // A folder the agent cannot write to: the temp file cannot be created.
  chmodSync(dir, 0o500)
  t.teardown(() => chmodSync(dir, 0o700))
  if (process.getuid?.() === 0) {
    // root ignores the mode bits: make the write fail another way, by a state file that is a folder.
    chmodSync(dir, 0o700)
    const { rmSync, mkdirSync } = await import('node:fs')
    rmSync(join(dir, 'state'))
    mkdirSync(join(dir, 'state'))
  }
  await t.rejects(store.set({ state: 'down' }))
  t.equal(store.current?.state, 'drain', 'a down that could not be written is taken back')
  await t.rejects(store.set({ state: 'ready' }))
  t.equal(store.current?.state, 'drain', 'a ready that could not be written never applied')
  t.same(seen, ['down:api', 'drain:api'])
})

/** Checks that every entry starts where the one before ended: no gap, no change audited twice. */
function chainBreaks(entries: AuditEntry[]): string[] {
  const breaks: string[] = []
  for (let i = 1; i < entries.length; i++) {
    const [before, entry] = [entries[i - 1] as AuditEntry, entries[i] as AuditEntry]
    if (entry.from !== before.to) breaks.push(`entry ${i}: from ${entry.from} after an entry to ${before.to}`)
  }
  return breaks
}

t.test(
  'a full audit disk: an API change is refused whole, a shell write is kept in order and written once the disk takes it',
  async (t) => {
    const { symlinkSync, unlinkSync } = await import('node:fs')
    const dir = tempDir(t)
    const { store, audit, path } = await openStore(t, dir)
    await store.set({ state: 'drain', reason: 'one' })
    const auditPath = join(dir, 'audit.log')
    renameSync(auditPath, join(dir, 'audit.saved'))
    symlinkSync('/dev/full', auditPath) // every write now fails with ENOSPC, as on a full disk
    audit.reopen()
    const problems: Array<string | null> = []
    store.on('problem', (p) => problems.push(p?.kind ?? null))

    await t.rejects(store.set({ state: 'down', reason: 'two' }), {
      code: 'AGENT_ERR_STATE_FILE',
      message: /no space left on device.*the state stays drain/i,
    })
    t.equal(store.current?.state, 'drain', 'the old state is in force')
    t.match(readFileSync(path, 'utf8'), /^drain reason=one/, 'and in the file')
    t.equal(store.problem?.kind, 'write-failed', 'and the failure is a reported problem')
    await t.rejects(store.set({ state: 'ready' }))
    t.equal(store.current?.state, 'drain')

    writeFileSync(path, 'ready reason=shell\n')
    await waitFor('the shell write applies although the audit file is full', stateIs(store, 'ready'), viaEvents)
    t.equal(store.problem?.kind, 'audit-behind')
    writeFileSync(path, 'down reason=shell2\n')
    await waitFor('a second shell write', stateIs(store, 'down'), viaEvents)
    t.equal(audit.pending, 2, 'both entries kept in memory')

    unlinkSync(auditPath)
    renameSync(join(dir, 'audit.saved'), auditPath)
    audit.reopen()
    await store.set({ state: 'drain', reason: 'three' })
    t.equal(store.problem, null, 'the next write that works clears the problem')
    const entries = auditEntries(dir)
    t.same(
      entries.map((e) => `${e.from}->${e.to}:${e.source}`),
      ['null->ready:initial', 'ready->drain:api', 'drain->ready:file', 'ready->down:file', 'down->drain:api'],
      'nothing refused was audited; the kept entries came first, in order',
    )
    t.same(chainBreaks(entries), [])
    t.same(
      problems.filter((p, i) => p !== problems[i - 1]),
      ['write-failed', 'audit-behind', null],
    )
  },
)

t.test('concurrent API and shell writes: every state the file held is audited once, in order', async (t) => {
  const dir = tempDir(t)
  const { store, path } = await openStore(t, dir)
  const states: AdminState[] = ['drain', 'down', 'ready']
  const api = Array.from({ length: 120 }, (_, i) => store.set({ state: states[i % 3] as AdminState, reason: `api-${i}` }))
  for (let i = 0; i < 30; i++) {
    writeFileSync(path, `${states[(i + 1) % 3]} reason=shell-${i}\n`)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(api)
  writeFileSync(path, 'ready reason=last\n')
  await waitFor('the last shell write', () => store.current?.reason === 'last', viaEvents)
  const entries = auditEntries(dir)
  t.same(chainBreaks(entries), [], 'each entry starts where the one before ended')
  const reasons = entries.map((e) => e.reason)
  t.same(
    reasons.filter((r, i) => r !== null && reasons.indexOf(r) !== i),
    [],
    'no change audited twice',
  )
  const apiOrder = reasons.filter((r) => r?.startsWith('api-')).map((r) => Number(r?.slice(4)))
  t.same(
    apiOrder,
    [...apiOrder].sort((a, b) => a - b),
    'API changes in the order they were made',
  )
  t.ok(apiOrder.length >= 80, `most API changes were changes (${apiOrder.length} of 120)`)
})

t.test('temp files left by a killed write are removed at start', async (t) => {
  const { readdirSync } = await import('node:fs')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'state'), 'drain\n')
  writeFileSync(join(dir, '.state.12345.0a1b2c3d.tmp'), 'down\n')
  writeFileSync(join(dir, '.state.99.ffffffff.tmp'), '')
  writeFileSync(join(dir, '.other.1.0a1b2c3d.tmp'), 'not ours')
  const { store } = await openStore(t, dir)
  t.equal(store.current?.state, 'drain')
  t.same(
    readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    ['.other.1.0a1b2c3d.tmp'],
  )
})
