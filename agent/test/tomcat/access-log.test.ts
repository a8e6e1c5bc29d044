import { appendFileSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { AccessLogFollower, type AccessLogProblem, type AccessLogReset } from '../../src/tomcat/access-log.js'
import { tempDir } from '../helpers/agent.js'
import { waitFor } from '../helpers/wait.js'

interface Seen {
  lines: string[]
  problems: AccessLogProblem[]
  resets: AccessLogReset[]
}

function follow(
  t: Test,
  dir: string,
  options: { pollMs?: number; chunkBytes?: number; maxLineBytes?: number } = {},
): { follower: AccessLogFollower; seen: Seen; log: string } {
  const log = join(dir, 'access.log')
  const seen: Seen = { lines: [], problems: [], resets: [] }
  const follower = new AccessLogFollower({
    path: log,
    positionFile: join(dir, 'position'),
    logger: pino({ level: 'silent' }),
    onLine: (line) => seen.lines.push(line),
    onProblem: (kind) => seen.problems.push(kind),
    onReset: (kind) => seen.resets.push(kind),
    saveEveryMs: 20,
    ...options,
  })
  t.teardown(() => follower.close())
  return { follower, seen, log }
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`)
const write = (path: string, from: number, to: number) =>
  appendFileSync(
    path,
    lines(from, to)
      .map((l) => `${l}\n`)
      .join(''),
  )

t.test('new lines as they are written (watcher, no poll); the history before the first start is skipped; a half line waits', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 600_000 })
  write(log, 0, 5)
  await follower.start()
  t.same(seen.lines, [])
  write(log, 5, 8)
  await waitFor('3 new lines', () => seen.lines.length === 3)
  t.same(seen.lines, lines(5, 8))
  appendFileSync(log, 'half')
  await follower.pump()
  t.equal(seen.lines.length, 3, 'no line until its newline')
  appendFileSync(log, ' done\r\n')
  await waitFor('the finished line', () => seen.lines.length === 4)
  t.equal(seen.lines[3], 'half done')
})

t.test('a log that does not exist yet is read whole once it appears', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 600_000 })
  await follower.start()
  write(log, 0, 4)
  await waitFor('4 lines', () => seen.lines.length === 4)
  t.same(seen.lines, lines(0, 4))
})

t.test('rotation by rename: the old file is read to its end, then the new one from its start', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 600_000 })
  writeFileSync(log, '')
  await follower.start()
  write(log, 0, 3)
  await waitFor('3 lines', () => seen.lines.length === 3)
  renameSync(log, `${log}.1`)
  // Tomcat (or a logrotate without copytruncate) still writes to the renamed file until it reopens.
  write(`${log}.1`, 3, 5)
  write(log, 5, 9)
  await waitFor('all 9 lines', () => seen.lines.length === 9)
  t.same(seen.lines, lines(0, 9))
  t.same(seen.resets, ['rotated'])
})

t.test('truncation (copytruncate): reading starts over at the beginning', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 600_000 })
  writeFileSync(log, '')
  await follower.start()
  write(log, 0, 10)
  await waitFor('10 lines', () => seen.lines.length === 10)
  truncateSync(log, 0)
  await waitFor('the truncation', () => seen.resets.length === 1)
  write(log, 10, 12)
  await waitFor('2 more lines', () => seen.lines.length === 12)
  t.same(seen.lines, lines(0, 12))
  t.same(seen.resets, ['truncated'])
})

t.test('the poll alone finds new lines, a rotation and a truncation', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 50 })
  writeFileSync(log, '')
  await follower.start()
  // Stop the watcher to prove the safety net on its own.
  await (follower as unknown as { watcher: { close(): Promise<void> } }).watcher.close()
  write(log, 0, 2)
  await waitFor('2 lines', () => seen.lines.length === 2)
  renameSync(log, `${log}.1`)
  write(log, 2, 3)
  await waitFor('the rotation', () => seen.lines.length === 3)
  truncateSync(log, 0)
  await waitFor('the truncation', () => seen.resets.length === 2)
  t.same(seen.resets, ['rotated', 'truncated'])
})

t.test('a restart takes up the kept position: lines written while stopped are read once, none twice', async (t) => {
  const dir = tempDir(t)
  const first = follow(t, dir)
  writeFileSync(first.log, '')
  await first.follower.start()
  write(first.log, 0, 3)
  appendFileSync(first.log, 'half a li')
  await waitFor('3 lines', () => first.seen.lines.length === 3)
  await first.follower.close()
  t.match(
    JSON.parse(readFileSync(join(dir, 'position'), 'utf8')),
    { path: first.log, offset: 21 },
    'the position ends at the last whole line',
  )
  appendFileSync(first.log, 'ne\n')
  write(first.log, 3, 6)
  const second = follow(t, dir)
  await second.follower.start()
  await waitFor('the lines written while stopped', () => second.seen.lines.length === 4)
  t.same(second.seen.lines, ['half a line', ...lines(3, 6)])

  // Rotated while stopped: the new file is read whole.
  await second.follower.close()
  renameSync(first.log, `${first.log}.1`)
  write(first.log, 6, 8)
  const third = follow(t, dir)
  await third.follower.start()
  await waitFor('the new file', () => third.seen.lines.length === 2)
  t.same(third.seen.lines, lines(6, 8))

  // Truncated while stopped (shorter than the position): read from the start.
  await third.follower.close()
  writeFileSync(first.log, 'x\n')
  const fourth = follow(t, dir)
  await fourth.follower.start()
  await waitFor('the truncated file', () => fourth.seen.lines.length === 1)
  t.same(fourth.seen.lines, ['x'])
})

t.test('an unusable position file: a warning, and reading starts at the end', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'position'), '{not json')
  const { follower, seen, log } = follow(t, dir)
  write(log, 0, 3)
  await follower.start()
  write(log, 3, 4)
  await waitFor('1 line', () => seen.lines.length === 1)
  t.same(seen.lines, ['line 3'])
})

t.test('a line longer than the limit is skipped and counted, across chunk boundaries; the next lines are read', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { chunkBytes: 16, maxLineBytes: 40 })
  writeFileSync(log, '')
  await follower.start()
  appendFileSync(log, `a short one\n${'x'.repeat(100)}\n${'y'.repeat(41)}\nafter\n${'z'.repeat(40)}\n`)
  await waitFor('the lines after', () => seen.lines.length === 3)
  t.same(seen.lines, ['a short one', 'after', 'z'.repeat(40)])
  t.same(seen.problems, ['too-long', 'too-long'])
})

t.test('a large backlog is read in bounded steps: the event loop turns meanwhile', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir)
  writeFileSync(log, '')
  await follower.start()
  const count = 100_000
  appendFileSync(log, lines(0, count).join('\n') + '\n')
  let turns = 0
  const ticker = setInterval(() => turns++, 0)
  await follower.pump()
  await waitFor('every line', () => seen.lines.length === count, { timeoutMs: 60_000 })
  clearInterval(ticker)
  t.ok(turns > 2, `timers ran ${turns} times while the backlog was read`)
  t.equal(seen.lines[count - 1], `line ${count - 1}`)
})

t.test('the log replaced by something that is not a file: a counted read problem, no hang, and it recovers', async (t) => {
  const dir = tempDir(t)
  const { follower, seen, log } = follow(t, dir, { pollMs: 50 })
  await follower.start()
  const { mkdirSync, rmdirSync } = await import('node:fs')
  mkdirSync(log)
  await waitFor('a read problem', () => seen.problems.includes('read'))
  rmdirSync(log)
  write(log, 0, 1)
  await waitFor('the line', () => seen.lines.length === 1)
  t.same(seen.lines, ['line 0'])
})
