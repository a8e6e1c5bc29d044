import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/agent.js'
import { AGENT_BIN, requireBuilt, runBin } from './helpers/cli.js'
import { spawnAgent } from './helpers/process.js'

const loopback = ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']

t.test('a port in use: one line naming the address, exit 75, and the fresh data dir removed', async (t) => {
  const dir = tempDir(t)
  const first = await spawnAgent(t, ['--data-dir', join(dir, 'first')])
  const fresh = join(dir, 'fresh')
  const result = await runBin(AGENT_BIN, [
    '--data-dir',
    fresh,
    '--listen',
    `127.0.0.1:${first.healthPort}`,
    '--admin-listen',
    '127.0.0.1:0',
  ])
  t.equal(result.code, 75)
  t.match(
    result.stderr,
    new RegExp(`^health-agent: cannot listen on 127\\.0\\.0\\.1:${first.healthPort}: address already in use \\(another agent\\?\\)\\n$`),
  )
  t.notOk(existsSync(fresh), 'no half-made data dir: no token, no state file')
})

t.test('a port in use keeps what was there before: the state file and the token', async (t) => {
  const dir = tempDir(t)
  const first = await spawnAgent(t, ['--data-dir', join(dir, 'first')])
  const data = join(dir, 'data')
  mkdirSync(data)
  writeFileSync(join(data, 'state'), 'drain reason="kept"\n')
  const result = await runBin(AGENT_BIN, ['--data-dir', data, '--admin-listen', '127.0.0.1:0', '--listen', `127.0.0.1:${first.healthPort}`])
  t.equal(result.code, 75)
  t.same(readdirSync(data), ['state'], 'only what was there')
  t.equal(readFileSync(join(data, 'state'), 'utf8'), 'drain reason="kept"\n')
})

t.test('a data dir that cannot be made: one line naming it, exit 73', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'file'), '')
  const result = await runBin(AGENT_BIN, ['--data-dir', join(dir, 'file/data'), ...loopback])
  t.equal(result.code, 73)
  t.match(
    result.stderr,
    /^health-agent: data dir .*file\/data is not writable \(ENOTDIR\): give it to the agent's user, or set HEALTH_AGENT_DATA_DIR\n$/,
  )
})

t.test('a data dir the agent user may not write in: exit 73, nothing made', async (t) => {
  const dir = tempDir(t)
  const data = join(dir, 'data')
  mkdirSync(data)
  chmodSync(dir, 0o755)
  chmodSync(data, 0o755)
  // As root, run the agent as nobody, as a unit with User= would; otherwise as this user on a read-only dir.
  const asRoot = process.getuid?.() === 0
  if (!asRoot) chmodSync(data, 0o555)
  const command = asRoot ? ['runuser', '-u', 'nobody', '--', process.execPath] : [process.execPath]
  const result = spawnSync(command[0] as string, [...command.slice(1), requireBuilt(AGENT_BIN), '--data-dir', data, ...loopback], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
    timeout: 60_000,
  })
  t.equal(result.status, 73, result.stderr)
  t.match(result.stderr, /^health-agent: data dir .*\/data is not writable \(EACCES\)/)
  t.same(readdirSync(data), [])
})

t.test('a bad config file: one line naming the file and the setting, exit 78', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'config.yaml'), 'listen: [1, 2\n')
  const bad = await runBin(AGENT_BIN, ['--data-dir', join(dir, 'data'), '--config', join(dir, 'config.yaml')])
  t.equal(bad.code, 78)
  t.match(bad.stderr, /^health-agent: config file .*config\.yaml is not valid YAML: /)
  writeFileSync(join(dir, 'config.yaml'), 'check-path: no-slash\n')
  const invalid = await runBin(AGENT_BIN, ['--data-dir', join(dir, 'data'), '--config', join(dir, 'config.yaml')])
  t.equal(invalid.code, 78)
  t.match(invalid.stderr, /^health-agent: invalid checkPath \(checkPath in .*config\.yaml\)/)
  t.notOk(existsSync(join(dir, 'data')), 'nothing made')
})
