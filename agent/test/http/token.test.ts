import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { bearerMatches, loadOrCreateToken } from '../../src/http/token.js'
import { tempDir } from '../helpers/agent.js'

const silent = pino({ level: 'silent' })

t.test("a missing token file is created with a random token, mode 0640 (the agent's group may read it), and reused", async (t) => {
  const dir = tempDir(t)
  const path = join(dir, 'sub/admin-token')
  const token = loadOrCreateToken(path, silent)
  t.match(token, /^[0-9a-f]{64}$/)
  t.equal(statSync(path).mode & 0o777, 0o640 & ~process.umask())
  t.equal(loadOrCreateToken(path, silent), token)
  t.not(loadOrCreateToken(join(dir, 'other'), silent), token)
})

t.test('a too-short token is refused', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'token'), 'short\n')
  t.throws(() => loadOrCreateToken(join(dir, 'token'), silent), { code: 'AGENT_ERR_TOKEN_FILE', message: /at least 16 characters, got 5/ })
})

t.test('bearer comparison', async (t) => {
  const token = 'a'.repeat(32)
  t.ok(bearerMatches(`Bearer ${token}`, token))
  t.ok(bearerMatches(`bearer ${token}`, token))
  t.notOk(bearerMatches(undefined, token))
  t.notOk(bearerMatches(token, token))
  t.notOk(bearerMatches(`Bearer ${token}x`, token))
  t.notOk(bearerMatches('Bearer ', token))
})

t.test('a token file others can read, or its group can write, is made owner and group only (0640), with a warning', async (t) => {
  const { chmodSync } = await import('node:fs')
  const dir = tempDir(t)
  const path = join(dir, 'token')
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) })
  for (const [mode, after] of [
    [0o644, 0o640],
    [0o606, 0o600],
    [0o660, 0o640],
    [0o666, 0o640],
  ]) {
    writeFileSync(path, `${'t'.repeat(32)}\n`)
    chmodSync(path, mode as number)
    t.equal(loadOrCreateToken(path, logger), 't'.repeat(32))
    t.equal(statSync(path).mode & 0o777, after, `mode ${(mode as number).toString(8)} became ${(after as number).toString(8)}`)
  }
  t.equal(lines.length, 4)
  t.match(lines[0], { was: '0644', now: '0640', msg: /made private; replace the token/ })
  for (const quiet of [0o600, 0o640]) {
    chmodSync(path, quiet)
    lines.length = 0
    loadOrCreateToken(path, logger)
    t.equal(lines.length, 0, `a ${quiet.toString(8)} file (deploy users in the group may read it) is read without a word`)
  }
})

t.test('a token file that is not a regular file, or is huge, is refused at once', async (t) => {
  const { execFileSync } = await import('node:child_process')
  const { mkdirSync, symlinkSync, truncateSync } = await import('node:fs')
  const dir = tempDir(t)
  execFileSync('mkfifo', ['-m', '600', join(dir, 'fifo')])
  mkdirSync(join(dir, 'folder'))
  writeFileSync(join(dir, 'huge'), '', { mode: 0o600 })
  truncateSync(join(dir, 'huge'), 10 * 1024 * 1024)
  t.throws(() => loadOrCreateToken(join(dir, 'fifo'), silent), { code: 'AGENT_ERR_TOKEN_FILE', message: /expected a regular file/ })
  t.throws(() => loadOrCreateToken(join(dir, 'folder'), silent), { code: 'AGENT_ERR_TOKEN_FILE' })
  writeFileSync(join(dir, 'real'), `${'a'.repeat(64)}\n`, { mode: 0o600 })
  symlinkSync(join(dir, 'real'), join(dir, 'link'))
  t.throws(() => loadOrCreateToken(join(dir, 'link'), silent), { code: 'AGENT_ERR_TOKEN_FILE', message: /got a symbolic link/ })
  t.throws(() => loadOrCreateToken('/dev/zero', silent), { code: 'AGENT_ERR_TOKEN_FILE', message: /got a character device/ })
  t.throws(() => loadOrCreateToken(join(dir, 'huge'), silent), {
    code: 'AGENT_ERR_TOKEN_FILE',
    message: /at most 4096 bytes, got 10485760/,
  })
})
