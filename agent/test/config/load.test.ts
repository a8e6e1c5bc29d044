import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { parseCommandLine } from '../../src/config/args.js'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

t.test('defaults work without any input, with paths under the package folder', async (t) => {
  const config = loadConfig({ env: {}, cwd: '/' })
  t.equal(config.listen, '0.0.0.0:9990')
  t.equal(config.adminListen, '127.0.0.1:9991')
  t.equal(config.checkPath, '/health')
  t.equal(config.initialState, 'ready')
  t.equal(config.dataDir, join(PACKAGE_ROOT, 'var'))
  t.equal(config.stateFile, join(PACKAGE_ROOT, 'var/state'))
  t.equal(config.tokenFile, join(PACKAGE_ROOT, 'var/admin-token'))
  t.equal(config.auditFile, join(PACKAGE_ROOT, 'var/audit.log'))
  t.ok(Object.isFrozen(config), 'frozen')
})

t.test('flags beat the environment, which beats the config file', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'agent.yaml')
  writeFileSync(file, 'listen: 127.0.0.1:1000\nadmin-listen: 127.0.0.1:1001\ncheckPath: /from-file\nstate-poll-ms: 300\n')
  const config = loadConfig({
    cwd: dir,
    configFile: file,
    env: { HEALTH_AGENT_LISTEN: '127.0.0.1:2000', HEALTH_AGENT_ADMIN_LISTEN: '127.0.0.1:2001' },
    flags: { listen: '127.0.0.1:3000' },
  })
  t.equal(config.listen, '127.0.0.1:3000', 'flag')
  t.equal(config.adminListen, '127.0.0.1:2001', 'environment')
  t.equal(config.checkPath, '/from-file', 'config file, camelCase key')
  t.equal(config.statePollMs, 300, 'config file, kebab-case key, a number')
  t.equal(config.configFile, file)
})

t.test('JSON config files, HEALTH_AGENT_CONFIG, and relative paths from the working directory', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'agent.json'), JSON.stringify({ stateFile: 'st/state', initialState: 'drain' }))
  const config = loadConfig({ cwd: dir, env: { HEALTH_AGENT_CONFIG: 'agent.json', HEALTH_AGENT_DATA_DIR: 'data' } })
  t.equal(config.stateFile, join(dir, 'st/state'))
  t.equal(config.auditFile, join(dir, 'data/audit.log'))
  t.equal(config.initialState, 'drain')
})

t.test('an invalid value names the setting, its source, what was expected and what arrived', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
    [
      { flags: { listen: 'nope' } },
      /^invalid listen \(--listen\): expected HOST:PORT such as 0\.0\.0\.0:9990 or \[::1\]:9990, got "nope"$/,
    ],
    [{ flags: { listen: '127.0.0.1:70000' } }, /invalid listen \(--listen\).*got "127\.0\.0\.1:70000"/],
    [
      { env: { HEALTH_AGENT_ADMIN_LISTEN: 'unix:' } },
      /^invalid adminListen \(HEALTH_AGENT_ADMIN_LISTEN\): expected HOST:PORT such as 127\.0\.0\.1:9991, or unix:\/path\/to\/socket, got "unix:"$/,
    ],
    [
      { env: { HEALTH_AGENT_INITIAL_STATE: 'up' } },
      /^invalid initialState \(HEALTH_AGENT_INITIAL_STATE\): expected one of ready, drain, down, got "up"$/,
    ],
    [
      { flags: { statePollMs: 'fast' } },
      /^invalid statePollMs \(--state-poll-ms\): expected an integer number of milliseconds from 50 to 60000, got "fast"$/,
    ],
    [{ flags: { statePollMs: '10' } }, /^invalid statePollMs \(--state-poll-ms\): .* got 10$/],
    [
      { flags: { checkPath: 'health' } },
      /^invalid checkPath \(--check-path\): expected a URL path starting with \/ such as \/health, got "health"$/,
    ],
  ]
  for (const [options, message] of cases) {
    t.throws(() => loadConfig({ env: {}, cwd: dir, ...options }), { code: 'AGENT_ERR_CONFIG', message }, JSON.stringify(options))
  }
})

t.test('config file problems are reported with the file name', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'typo.yaml'), 'lisen: 127.0.0.1:1\n')
  writeFileSync(join(dir, 'bad.yaml'), 'listen: [unclosed\n')
  writeFileSync(join(dir, 'bad.json'), '{"listen": ')
  writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n')
  writeFileSync(join(dir, 'wrong.yaml'), 'statePollMs: soon\n')
  const load = (name: string) => () => loadConfig({ env: {}, cwd: dir, configFile: name })
  t.throws(load('typo.yaml'), { code: 'AGENT_ERR_CONFIG_FILE', message: /typo\.yaml: unknown setting "lisen" \(known: dataDir, .*listen/ })
  t.throws(load('bad.yaml'), { code: 'AGENT_ERR_CONFIG_FILE', message: /bad\.yaml is not valid YAML/ })
  t.throws(load('bad.json'), { code: 'AGENT_ERR_CONFIG_FILE', message: /bad\.json is not valid JSON/ })
  t.throws(load('list.yaml'), { code: 'AGENT_ERR_CONFIG_FILE', message: /expected a mapping of settings/ })
  t.throws(load('missing.yaml'), { code: 'AGENT_ERR_CONFIG_FILE', message: /cannot read config file .*missing\.yaml/ })
  t.throws(load('wrong.yaml'), {
    code: 'AGENT_ERR_CONFIG',
    message: /^invalid statePollMs \(statePollMs in .*wrong\.yaml\): expected an integer .* got "soon"$/,
  })
})

t.test('the command line maps flags onto settings and refuses unknown ones', async (t) => {
  const parsed = parseCommandLine(['--state-file', '/tmp/s', '--listen=127.0.0.1:1', '--help'], { help: { type: 'boolean' } })
  t.same(parsed.settings, { stateFile: '/tmp/s', listen: '127.0.0.1:1' })
  t.equal(parsed.options.help, true)
  t.throws(() => parseCommandLine(['--stat-file', 'x'], {}), {
    code: 'AGENT_ERR_CONFIG',
    message: /Unknown option '--stat-file'.*\(see --help\)/,
  })
  t.throws(() => parseCommandLine(['--listen'], {}), { code: 'AGENT_ERR_CONFIG', message: /--listen/ })
})
