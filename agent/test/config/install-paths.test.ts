import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { readEnvFile } from '../../src/config/env-file.js'
import { defaultInstallPaths, SYSTEM_PATHS, type InstallPaths } from '../../src/config/paths.js'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

/** An installed layout under a temp dir: its /etc config, /etc/default file and /var/lib dir. */
function installed(dir: string): InstallPaths {
  mkdirSync(join(dir, 'etc'), { recursive: true })
  return {
    configFiles: [join(dir, 'etc/config.yaml'), join(dir, 'etc/config.json')],
    envFile: join(dir, 'default'),
    dataDir: join(dir, 'lib'),
  }
}

t.test('a development checkout keeps var/ and reads nothing from /etc; installed, the system paths', async (t) => {
  t.same(defaultInstallPaths(), { configFiles: [], envFile: null, dataDir: join(PACKAGE_ROOT, 'var') })
  t.equal(SYSTEM_PATHS.dataDir, '/var/lib/tomcat-health-agent')
  t.same(SYSTEM_PATHS.configFiles, ['/etc/tomcat-health-agent/config.yaml', '/etc/tomcat-health-agent/config.json'])
  t.equal(SYSTEM_PATHS.envFile, '/etc/default/tomcat-health-agent')
})

t.test('installed: the data dir defaults to the system one, and nothing else is needed', async (t) => {
  const paths = installed(tempDir(t))
  const config = loadConfig({ env: {}, installPaths: paths })
  t.equal(config.dataDir, paths.dataDir)
  t.equal(config.tokenFile, join(paths.dataDir, 'admin-token'))
  t.equal(config.configFile, null)
})

t.test('installed: the config file, then the environment file, then the environment, then flags', async (t) => {
  const dir = tempDir(t)
  const paths = installed(dir)
  writeFileSync(join(dir, 'etc/config.yaml'), 'admin-listen: 127.0.0.1:7001\nlisten: 127.0.0.1:7000\ndata-dir: /srv/from-config\n')
  t.equal(loadConfig({ env: {}, installPaths: paths }).adminListen, '127.0.0.1:7001', 'found without --config')
  writeFileSync(
    join(dir, 'default'),
    '# the unit reads this too\nHEALTH_AGENT_ADMIN_LISTEN="127.0.0.1:7002"\n\nHEALTH_AGENT_DATA_DIR=/srv/agent\n',
  )
  const config = loadConfig({ env: { HEALTH_AGENT_LISTEN: '127.0.0.1:7003' }, installPaths: paths })
  t.equal(config.adminListen, '127.0.0.1:7002', 'the environment file over the config file')
  t.equal(config.tokenFile, '/srv/agent/admin-token')
  t.equal(config.listen, '127.0.0.1:7003', 'the environment over both')
  t.equal(
    loadConfig({ env: {}, installPaths: paths, flags: { adminListen: '127.0.0.1:7004' } }).adminListen,
    '127.0.0.1:7004',
    'flags over all',
  )
})

t.test('installed: HEALTH_AGENT_CONFIG in the environment file names the config file', async (t) => {
  const dir = tempDir(t)
  const paths = installed(dir)
  writeFileSync(join(dir, 'other.json'), '{"adminListen": "127.0.0.1:7005"}')
  writeFileSync(join(dir, 'default'), `HEALTH_AGENT_CONFIG=${join(dir, 'other.json')}\n`)
  const config = loadConfig({ env: {}, installPaths: paths })
  t.equal(config.configFile, join(dir, 'other.json'))
  t.equal(config.adminListen, '127.0.0.1:7005')
})

t.test('an environment file: quotes, comments, a missing file; a malformed line is an error naming the line', async (t) => {
  const dir = tempDir(t)
  t.same(readEnvFile(join(dir, 'missing')), {})
  writeFileSync(join(dir, 'env'), '; comment\nA=\'x y\'\n B = 2 \nC="q"\n')
  t.same(readEnvFile(join(dir, 'env')), { A: 'x y', B: '2', C: 'q' })
  writeFileSync(join(dir, 'bad'), 'A=1\nexport B=2\n')
  t.throws(() => readEnvFile(join(dir, 'bad')), {
    code: 'AGENT_ERR_CONFIG_FILE',
    message: /bad line 2: expected NAME=VALUE, got "export B=2"/,
  })
  mkdirSync(join(dir, 'dir'))
  t.throws(() => readEnvFile(join(dir, 'dir')), { code: 'AGENT_ERR_CONFIG_FILE', message: /cannot read environment file .*dir/ })
})
