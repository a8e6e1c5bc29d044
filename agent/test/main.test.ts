import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { tempDir } from './helpers/agent.js'
import { AGENT_BIN, runBin } from './helpers/cli.js'
import { httpRequest } from './helpers/http.js'
import { spawnAgent } from './helpers/process.js'
import { waitFor } from './helpers/wait.js'

const check = (port: number) => httpRequest(`http://127.0.0.1:${port}/health`).then((r) => r.status)

t.test('--help and --version', async (t) => {
  const help = await runBin(AGENT_BIN, ['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: health-agent/)
  for (const flag of [
    '--state-file PATH',
    '--listen HOST:PORT',
    '--admin-listen HOST:PORT',
    '--token-file PATH',
    '--check-path PATH',
    'HEALTH_AGENT_STATE_FILE',
  ]) {
    t.match(help.stdout, flag)
  }
  const version = await runBin(AGENT_BIN, ['--version'])
  t.match(version.stdout, /^tomcat-health-agent \d+\.\d+\.\d+ \(node v\d+\.\d+\.\d+\)\n$/, 'both versions')
})

t.test('a bad setting stops the agent with one line and exit code 78; a bad command line with 2', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string[], Record<string, string>, RegExp, number]> = [
    [['--listen', 'nowhere'], {}, /^health-agent: invalid listen \(--listen\): expected HOST:PORT .* got "nowhere"\n$/, 78],
    [
      [],
      { HEALTH_AGENT_INITIAL_STATE: 'up' },
      /^health-agent: invalid initialState \(HEALTH_AGENT_INITIAL_STATE\): expected one of ready, drain, down, got "up"\n$/,
      78,
    ],
    [['--no-such-flag'], {}, /^health-agent: Unknown option '--no-such-flag'.*\(see --help\)\n$/, 2],
    [['--config', join(dir, 'missing.yaml')], {}, /^health-agent: cannot read config file .*missing\.yaml/, 78],
    [['stray'], {}, /^health-agent: unexpected argument "stray"/, 2],
  ]
  for (const [args, env, message, code] of cases) {
    const result = await runBin(AGENT_BIN, ['--data-dir', dir, ...args], env)
    t.equal(result.code, code, args.join(' ') || JSON.stringify(env))
    t.match(result.stderr, message)
  }
})

t.test('a port in use is one clear line, not a stack trace', async (t) => {
  const dir = tempDir(t)
  const first = await spawnAgent(t, ['--data-dir', dir])
  const second = await runBin(AGENT_BIN, ['--data-dir', dir, '--listen', `127.0.0.1:${first.healthPort}`, '--admin-listen', '127.0.0.1:0'])
  t.equal(second.code, 75)
  t.match(second.stderr, new RegExp(`^health-agent: cannot listen on 127\\.0\\.0\\.1:${first.healthPort}: address already in use`))
})

t.test('a restarted agent answers what the file says; SIGTERM closes cleanly', async (t) => {
  const dir = tempDir(t)
  const first = await spawnAgent(t, ['--data-dir', dir, '--initial-state', 'down'])
  t.equal(await check(first.healthPort), 500, 'initial state down')
  writeFileSync(join(dir, 'state'), 'drain reason="before restart"\n')
  await waitFor('drain', async () => (await check(first.healthPort)) === 404)
  t.equal(await first.stop('SIGTERM'), 0, 'exit code 0 on SIGTERM')
  t.match(first.logs().at(-1), { msg: 'stopped' }, 'the last log line was flushed')

  const second = await spawnAgent(t, ['--data-dir', dir, '--initial-state', 'ready'])
  t.equal(await check(second.healthPort), 404, 'still drained after the restart')
  t.match(
    second.logs().find((l) => l.msg === 'admin state read from the state file'),
    { state: 'drain', reason: 'before restart' },
  )
  t.equal(await second.stop('SIGINT'), 0, 'exit code 0 on SIGINT')
})

t.test('SIGHUP reopens the log and audit files', async (t) => {
  const dir = tempDir(t)
  const agent = await spawnAgent(t, ['--data-dir', dir])
  const audit = join(dir, 'audit.log')
  renameSync(audit, `${audit}.1`)
  agent.child.kill('SIGHUP')
  await waitFor('reopen logged', () => agent.logs().some((l) => String(l.msg).startsWith('reopened')))
  writeFileSync(join(dir, 'state'), 'drain\n')
  await waitFor('a new audit file with the change', () => {
    try {
      return readFileSync(audit, 'utf8').includes('"to":"drain"')
    } catch {
      return false
    }
  })
  t.notMatch(readFileSync(`${audit}.1`, 'utf8'), /"to":"drain"/, 'the rotated file got nothing more')
})

t.test('--log-file writes JSON lines to a file, reopened on SIGHUP', async (t) => {
  const dir = tempDir(t)
  const logFile = join(dir, 'agent.log')
  const { spawn } = await import('node:child_process')
  const child = spawn(
    process.execPath,
    [AGENT_BIN, '--data-dir', dir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--log-file', logFile],
    { stdio: 'ignore' },
  )
  const exited = new Promise((resolve) => child.on('exit', resolve))
  t.teardown(async () => {
    child.kill('SIGKILL')
    await exited
  })
  const lines = () => {
    try {
      return readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    } catch {
      return []
    }
  }
  await waitFor('start logged to the file', () => lines().some((l) => typeof l.health === 'string'))
  renameSync(logFile, `${logFile}.1`)
  child.kill('SIGHUP')
  await waitFor('a new log file after SIGHUP', () => lines().some((l) => String(l.msg).startsWith('reopened')))
  t.pass()
})
