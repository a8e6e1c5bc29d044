import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { requireBuilt, AGENTCTL_BIN } from '../helpers/cli.js'
import { spawnAgent } from '../helpers/process.js'
import { requireBinary } from '../helpers/system.js'

/** A PATH with only what the scripts need besides agentctl, so that no installed agentctl is found. */
function barePath(dir: string): string {
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  for (const tool of ['bash', 'dirname', 'basename', 'date', 'awk', 'cat']) symlinkSync(requireBinary(tool), join(bin, tool))
  return bin
}

t.test('agentctl not found: pre-deploy and post-deploy stop with one line and exit 5, never run "drain" as a command', async (t) => {
  const dir = tempDir(t)
  cpSync(join(PACKAGE_ROOT, 'scripts'), join(dir, 'scripts'), { recursive: true })
  const path = barePath(dir)
  for (const script of ['pre-deploy', 'post-deploy']) {
    const result = spawnSync(join(path, 'bash'), [join(dir, 'scripts', script), '--reason', 'test'], {
      encoding: 'utf8',
      env: { PATH: path },
      timeout: 60_000,
    })
    t.equal(result.status, 5, `${script}: ${result.stderr}`)
    t.match(
      result.stderr,
      new RegExp(
        `^${script}: error: agentctl not found \\(PATH=${path}\\): install the package, build this checkout \\(npm ci\\), or set AGENTCTL\\n$`,
      ),
    )
    t.notMatch(result.stderr, /command not found|step:/)
  }
})

t.test('a checkout in a folder with a space: pre-deploy runs its agentctl', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'with space')
  cpSync(join(PACKAGE_ROOT, 'scripts'), join(root, 'scripts'), { recursive: true })
  mkdirSync(join(root, 'dist/bin'), { recursive: true })
  cpSync(requireBuilt(AGENTCTL_BIN), join(root, 'dist/bin/agentctl.mjs'))
  const data = join(dir, 'data')
  const agent = await spawnAgent(t, ['--data-dir', data])
  // No load balancer checks this agent: the drain is set, and not confirmed within 1 s (exit 1).
  const result = spawnSync(
    'bash',
    [
      join(root, 'scripts/pre-deploy'),
      '--reason',
      'space test',
      '--drain-timeout',
      '1',
      '--agent',
      agent.adminUrl,
      '--token-file',
      join(data, 'admin-token'),
    ],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
      timeout: 60_000,
    },
  )
  t.equal(result.status, 1, result.stderr)
  t.match(result.stdout, /drain: admin state is now drain/)
  t.notMatch(result.stderr, /Cannot find module/)
  t.match(readFileSync(join(data, 'state'), 'utf8'), /^drain .*reason="space test"/)
})

t.test("installed from the Debian package: the scripts run the package's agentctl, whatever PATH says", async (t) => {
  const dir = tempDir(t)
  // The package's layout under a root of the test's own: /usr/lib/tomcat-health-agent/scripts and
  // /usr/bin/agentctl, a symlink to the executable (here the npm build of agentctl, which runs as
  // the same command; node reads it as a module by its .mjs name).
  const usr = join(dir, 'root/usr')
  cpSync(join(PACKAGE_ROOT, 'scripts'), join(usr, 'lib/tomcat-health-agent/scripts'), { recursive: true })
  mkdirSync(join(usr, 'bin'), { recursive: true })
  cpSync(requireBuilt(AGENTCTL_BIN), join(usr, 'lib/tomcat-health-agent/agentctl.mjs'))
  symlinkSync('../lib/tomcat-health-agent/agentctl.mjs', join(usr, 'bin/agentctl'))
  const path = barePath(dir)
  symlinkSync(process.execPath, join(path, 'node'))
  const data = join(dir, 'data')
  const agent = await spawnAgent(t, ['--data-dir', data])
  // No load balancer checks this agent: the drain is set, and not confirmed within 1 s (exit 1).
  const result = spawnSync(
    join(path, 'bash'),
    [
      join(usr, 'lib/tomcat-health-agent/scripts/pre-deploy'),
      '--reason',
      'deb layout',
      '--drain-timeout',
      '1',
      '--agent',
      agent.adminUrl,
      '--token-file',
      join(data, 'admin-token'),
    ],
    { encoding: 'utf8', env: { PATH: path }, timeout: 60_000 },
  )
  t.equal(result.status, 1, result.stderr)
  t.match(result.stdout, /drain: admin state is now drain/)
  t.match(readFileSync(join(data, 'state'), 'utf8'), /^drain .*reason="deb layout"/)
})
