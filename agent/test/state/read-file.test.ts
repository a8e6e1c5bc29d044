import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { MAX_STATE_FILE_BYTES, readStateFile } from '../../src/state/read-file.js'
import { tempDir } from '../helpers/agent.js'

t.test('a regular file and a symlink to one are read', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'state'), 'drain\n')
  symlinkSync(join(dir, 'state'), join(dir, 'link'))
  t.same(readStateFile(join(dir, 'state')), { ok: true, text: 'drain\n' })
  t.same(readStateFile(join(dir, 'link')), { ok: true, text: 'drain\n' })
})

t.test('anything else is a problem with a reason, and nothing blocks', async (t) => {
  const dir = tempDir(t)
  execFileSync('mkfifo', [join(dir, 'fifo')])
  mkdirSync(join(dir, 'folder'))
  symlinkSync(join(dir, 'loop-b'), join(dir, 'loop-a'))
  symlinkSync(join(dir, 'loop-a'), join(dir, 'loop-b'))
  writeFileSync(join(dir, 'huge'), '')
  truncateSync(join(dir, 'huge'), 50 * 1024 * 1024)
  writeFileSync(join(dir, 'just-over'), `drain reason="${'x'.repeat(MAX_STATE_FILE_BYTES)}"\n`)
  writeFileSync(join(dir, 'at-cap'), 'x'.repeat(MAX_STATE_FILE_BYTES))
  const cases: Array<[string, string, RegExp]> = [
    ['fifo', 'not-a-file', /is a FIFO \(named pipe\): expected a regular file/],
    ['folder', 'not-a-file', /is a directory/],
    ['loop-a', 'unreadable', /symlink loop/],
    ['huge', 'too-large', /holds 52428800 bytes: expected one state line of at most 8192 bytes/],
    ['just-over', 'too-large', /at most 8192 bytes/],
    ['missing', 'missing', /does not exist/],
    ['/dev/null', 'not-a-file', /character device/],
  ]
  for (const [name, kind, message] of cases) {
    const started = performance.now()
    const read = readStateFile(name.startsWith('/') ? name : join(dir, name))
    t.match(read, { ok: false, kind, error: message }, name)
    t.ok(performance.now() - started < 1000, `${name} answered at once`)
  }
  t.match(readStateFile(join(dir, 'at-cap')), { ok: true }, 'exactly at the cap is read')
})
