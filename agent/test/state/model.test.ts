import t from 'tap'
import { formatStateRecord, parseStateText, type StateRecord } from '../../src/state/model.js'

t.test('accepts what a shell or the API writes', async (t) => {
  const cases: Array<[string, StateRecord]> = [
    ['ready', { state: 'ready' }],
    ['drain\n', { state: 'drain' }],
    ['DOWN\r\n', { state: 'down' }],
    ['  drain  \n\n', { state: 'drain' }],
    ['# set by the deploy\ndrain reason="deploy v42"\n', { state: 'drain', reason: 'deploy v42' }],
    ['drain reason="deploy v42" by=alice', { state: 'drain', reason: 'deploy v42', by: 'alice' }],
    ['down reason=maintenance', { state: 'down', reason: 'maintenance' }],
    [
      'drain reason="say \\"hi\\"" since=2026-11-26T10:00:00.000Z',
      { state: 'drain', reason: 'say "hi"', since: '2026-11-26T10:00:00.000Z' },
    ],
  ]
  for (const [text, record] of cases) {
    const result = parseStateText(text)
    t.same(result, { ok: true, record, warnings: [] }, JSON.stringify(text))
  }
})

t.test('refuses empty, half-written, unknown and ambiguous files', async (t) => {
  const cases: Array<[string, 'empty' | 'invalid', RegExp]> = [
    ['', 'empty', /empty/],
    ['\n  \n', 'empty', /empty/],
    ['# only a comment\n', 'empty', /empty/],
    ['rea', 'invalid', /expected a state \(ready, drain, down\).*"rea"/],
    ['drainn', 'invalid', /expected a state/],
    ['up', 'invalid', /expected a state/],
    ['ready\ndrain\n', 'invalid', /expected one state line, found 2/],
    ['drain reason="deploy v4', 'invalid', /unterminated quote/],
    ['drain reason="a"b', 'invalid', /unterminated quote/],
    ['drain deploy', 'invalid', /expected key=value after the state, got "deploy"/],
    ['drain since=yesterday', 'invalid', /since= expects an ISO time/],
    ['reason=x drain', 'invalid', /expected a state/],
  ]
  for (const [text, kind, message] of cases) {
    const result = parseStateText(text)
    t.equal(result.ok, false, JSON.stringify(text))
    if (!result.ok) {
      t.equal(result.kind, kind, `${JSON.stringify(text)} kind`)
      t.match(result.error, message, `${JSON.stringify(text)} message`)
    }
  }
})

t.test('an unknown key is ignored with a warning, the state still applies', async (t) => {
  const result = parseStateText('drain reson="typo"')
  t.same(result, { ok: true, record: { state: 'drain' }, warnings: ['unknown key "reson" ignored (known: reason, by, since, until)'] })
})

t.test('format and parse round-trip', async (t) => {
  const records: StateRecord[] = [
    { state: 'ready' },
    { state: 'drain', reason: 'deploy v42', by: 'alice@web1', since: '2026-11-26T10:00:00.000Z' },
    { state: 'down', reason: 'quote " and backslash \\ and = sign' },
  ]
  for (const record of records) {
    const text = formatStateRecord(record)
    t.match(text, /^[^\n]*\n$/, 'one line')
    t.same(parseStateText(text), { ok: true, record, warnings: [] })
  }
})
