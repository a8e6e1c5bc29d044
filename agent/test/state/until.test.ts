import t from 'tap'
import { formatStateRecord, parseStateText, sameRecord, type StateRecord } from '../../src/state/model.js'
import { expiresAt } from '../../src/state/expiry.js'

t.test('until= is read, written back and compared like the other keys', async (t) => {
  const record: StateRecord = {
    state: 'drain',
    reason: 'deploy v42',
    by: 'alice',
    since: '2026-11-26T10:00:00.000Z',
    until: '2026-11-26T12:00:00.000Z',
  }
  const line = formatStateRecord(record)
  t.equal(line, 'drain reason="deploy v42" by=alice since=2026-11-26T10:00:00.000Z until=2026-11-26T12:00:00.000Z\n')
  t.same(parseStateText(line), { ok: true, record, warnings: [] })
  t.same(parseStateText('down until=2026-11-26T12:00:00Z'), {
    ok: true,
    record: { state: 'down', until: '2026-11-26T12:00:00Z' },
    warnings: [],
  })
  t.notOk(sameRecord(record, { ...record, until: '2026-11-26T13:00:00.000Z' }), 'a new expiry is a change')
  t.notOk(sameRecord(record, { ...record, until: undefined }), 'dropping the expiry is a change')
  t.equal(expiresAt(record), Date.parse('2026-11-26T12:00:00.000Z'))
})

t.test('a bad until= is refused; until= on ready is ignored with a warning', async (t) => {
  const bad = parseStateText('drain until=tomorrow')
  t.same(bad, { ok: false, kind: 'invalid', error: 'until= expects an ISO time, got "tomorrow"' })
  const ready = parseStateText('ready until=2026-11-26T12:00:00Z')
  t.same(ready, { ok: true, record: { state: 'ready' }, warnings: ['until= applies to drain and down only: ignored on ready'] })
  t.equal(expiresAt({ state: 'ready', until: '2026-11-26T12:00:00Z' }), null, 'ready never expires')
  t.equal(expiresAt({ state: 'drain' }), null)
})
