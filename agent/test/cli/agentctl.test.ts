import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { freePort } from '../helpers/system.js'

t.test('status, drain, down and ready against a running agent', async (t) => {
  const running = await startAgent(t)
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }

  const status = await agentctl(['status'], env)
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /^effective +ready \(HTTP 200\)\nadmin +ready since \S+ by health-agent: initial state\n/)
  t.match(status.stdout, /^state file .*: ok$/m)
  t.match(status.stdout, /^agent +tomcat-health-agent /m)

  const drain = await agentctl(['drain', '--reason', 'deploy v42', '--by', 'alice'], env)
  t.equal(drain.code, 0, drain.stderr)
  t.equal(drain.stdout, 'drain: admin state is now drain (was ready); the check answers 404 when nothing overrides it\n')
  t.equal((await running.check()).status, 404)
  t.match(running.agent.core.store.current, { state: 'drain', reason: 'deploy v42', by: 'alice' })

  const again = await agentctl(['drain'], env)
  t.match(again.stdout, /^drain: admin state stays drain;/)

  const down = await agentctl(['down', '--json'], env)
  t.equal(down.code, 0)
  t.match(JSON.parse(down.stdout), { effective: { state: 'down', httpStatus: 500 }, admin: { state: 'down' } })
  t.match(running.agent.core.store.current?.by, /^.+@.+$/, 'by defaults to user@host')

  const ready = await agentctl(['ready', '--reason', 'deployed'], env)
  t.equal(ready.code, 0)
  t.equal((await running.check()).status, 200)

  const json = await agentctl(['status', '--json'], env)
  t.match(JSON.parse(json.stdout), {
    effective: { state: 'ready' },
    admin: { state: 'ready', reason: 'deployed' },
    stateFile: { ok: true },
  })
})

t.test('status shows a state-file problem', async (t) => {
  const running = await startAgent(t)
  writeFileSync(running.agent.core.config.stateFile, 'nonsense\n')
  const { waitFor } = await import('../helpers/wait.js')
  await waitFor('problem', () => running.agent.core.store.problem !== null)
  const status = await agentctl(['status'], {
    HEALTH_AGENT_URL: running.adminUrl,
    HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token'),
  })
  t.match(status.stdout, /state file .*: invalid since \S+: expected a state .* \(last good state kept\)/)
})

t.test('finds the local agent from the same defaults as the agent (data dir, admin listen)', async (t) => {
  const dir = tempDir(t)
  const port = await freePort()
  const running = await startAgent(t, { adminListen: `127.0.0.1:${port}` }, dir)
  const result = await agentctl(['drain'], { HEALTH_AGENT_DATA_DIR: dir, HEALTH_AGENT_ADMIN_LISTEN: `127.0.0.1:${port}` })
  t.equal(result.code, 0, result.stderr)
  t.equal(running.agent.core.store.current?.state, 'drain')

  writeFileSync(join(dir, 'agent.yaml'), `data-dir: ${dir}\nadmin-listen: 0.0.0.0:${port}\n`)
  const viaConfig = await agentctl(['ready', '--config', join(dir, 'agent.yaml')])
  t.equal(viaConfig.code, 0, viaConfig.stderr)
  t.equal(running.agent.core.store.current?.state, 'ready', '0.0.0.0 in the config means this host')
})

t.test('exit codes: bad usage 2, unreachable 3, refused 4', async (t) => {
  const running = await startAgent(t)
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }

  const help = await agentctl(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: agentctl <command>[\s\S]*Exit codes:/)

  for (const [args, message] of [
    [[], /missing command/],
    [['start'], /unknown command "start"/],
    [['drain', 'deploy', 'v42'], /unexpected argument "deploy" \(quote a reason/],
    [['drain', '--wat'], /Unknown option '--wat'/],
    [['status', '--reason', 'x'], /--reason goes with ready, drain or down/],
    [['status', '--agent', 'ftp://x'], /--agent: expected http:\/\/HOST:PORT or unix:\/PATH/],
  ] as Array<[string[], RegExp]>) {
    const result = await agentctl(args, env)
    t.equal(result.code, 2, args.join(' '))
    t.match(result.stderr, message)
  }

  const noToken = await agentctl(['status'], { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: '/nonexistent/token' })
  t.equal(noToken.code, 2)
  t.match(noToken.stderr, /cannot read the admin token from \/nonexistent\/token: ENOENT/)

  const port = await freePort()
  const unreachable = await agentctl(['status'], { ...env, HEALTH_AGENT_URL: `http://127.0.0.1:${port}` })
  t.equal(unreachable.code, 3)
  t.match(unreachable.stderr, new RegExp(`cannot reach the agent at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED \\(is the agent running`))

  const dir = tempDir(t)
  writeFileSync(join(dir, 'wrong-token'), 'x'.repeat(64))
  const refused = await agentctl(['drain'], { ...env, HEALTH_AGENT_TOKEN_FILE: join(dir, 'wrong-token') })
  t.equal(refused.code, 4)
  t.match(refused.stderr, /agent answered 401: wrong token/)

  const tooLong = await agentctl(['drain', '--reason', 'x'.repeat(600)], env)
  t.equal(tooLong.code, 2, 'refused before anything is sent: bad usage')
  t.match(tooLong.stderr, /^agentctl: --reason: expected at most 500 characters, got 600\n$/)
  t.equal(running.agent.core.store.current?.state, 'ready', 'refused calls changed nothing')
})

t.test('agentctl reads only its own settings: an agent-only setting it does not use cannot stop it', async (t) => {
  const running = await startAgent(t)
  const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
  const config = join(running.dir, 'agent.yaml')
  writeFileSync(config, 'tomcat-fall: many\ncheck-path: /health\n')

  const withBadAgentSettings = await agentctl(['status'], { ...env, HEALTH_AGENT_TOMCAT_FALL: 'abc', HEALTH_AGENT_CONFIG: config })
  t.equal(withBadAgentSettings.code, 0, withBadAgentSettings.stderr)
  t.match(withBadAgentSettings.stdout, /^effective {3}ready \(HTTP 200\)$/m)

  const badUrl = await agentctl(['status'], { ...env, HEALTH_AGENT_URL: 'ftp://nowhere' })
  t.equal(badUrl.code, 2, 'its own settings are still checked')
  t.match(badUrl.stderr, /^agentctl: --agent: expected http:\/\/HOST:PORT or unix:\/PATH, got "ftp:\/\/nowhere"\n$/)

  const unknownKey = join(running.dir, 'typo.yaml')
  writeFileSync(unknownKey, 'tomcat-fal: 3\n')
  const typo = await agentctl(['status'], { ...env, HEALTH_AGENT_CONFIG: unknownKey })
  t.equal(typo.code, 2, 'a config file the agent would refuse is refused too')
  t.match(typo.stderr, /unknown setting "tomcat-fal"/)
})

t.test('a token path that leads elsewhere (FIFO, /dev/zero, symlink, folder, huge file) is one clear line at once, exit 2', async (t) => {
  // What the tomcat10 drop-in's stop step runs, as root: it must neither hang nor fill memory.
  const dir = tempDir(t)
  const real = join(dir, 'admin-token')
  writeFileSync(real, `${'a'.repeat(64)}\n`, { mode: 0o640 })
  execFileSync('mkfifo', ['-m', '600', join(dir, 'fifo')])
  symlinkSync(real, join(dir, 'link'))
  mkdirSync(join(dir, 'folder'))
  writeFileSync(join(dir, 'huge'), '', { mode: 0o600 })
  truncateSync(join(dir, 'huge'), 1024 * 1024 * 1024)
  const url = `http://127.0.0.1:${await freePort()}`
  for (const [path, why] of [
    [join(dir, 'fifo'), /expected a regular file, got a FIFO \(named pipe\)/],
    ['/dev/zero', /expected a regular file, got a character device/],
    [join(dir, 'link'), /expected a regular file, got a symbolic link/],
    [join(dir, 'folder'), /expected a regular file, got a directory/],
    [join(dir, 'huge'), /expected a token of at most 4096 bytes, got 1073741824/],
  ] as Array<[string, RegExp]>) {
    const started = Date.now()
    const result = await agentctl(['down', '--drain-first', '--wait'], { HEALTH_AGENT_URL: url, HEALTH_AGENT_TOKEN_FILE: path }, 15_000)
    const ms = Date.now() - started
    t.comment(`${path}: exit ${result.code ?? result.signal} after ${ms} ms`)
    t.equal(result.code, 2, `${path}: exit 2 (${result.signal ?? 'no signal'})`)
    t.match(
      result.stderr,
      new RegExp(`^agentctl: token file ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${why.source} \\(see --token-file\\)\n$`),
    )
    t.ok(ms < 10_000, `${path}: answered in ${ms} ms`)
  }
  // Every command that talks to the agent reads the token the same way.
  for (const command of [
    ['canary', '--for', '60'],
    ['tomcat', 'wait-version', '--version', '001'],
  ]) {
    const result = await agentctl(command, { HEALTH_AGENT_URL: url, HEALTH_AGENT_TOKEN_FILE: join(dir, 'fifo') }, 15_000)
    t.equal(result.code, 2, `${command.join(' ')}: exit 2 (${result.signal ?? 'no signal'})`)
    t.match(result.stderr, /^agentctl: token file .*fifo: expected a regular file, got a FIFO \(named pipe\) \(see --token-file\)\n$/)
  }
})
