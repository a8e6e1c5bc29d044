import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { bearerMatches, loadOrCreateToken } from '../../src/http/token.js'
import { tempDir } from '../helpers/agent.js'

const silent = pino({ level: 'silent' })

t.test('a missing token file is created with a random token, mode 0640 (the agent\'s group may read it), and reused', async (t) => {
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
