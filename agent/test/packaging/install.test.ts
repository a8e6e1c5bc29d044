import { spawn, spawnSync } from 'node:child_process'
import { existsSync, lstatSync, readFileSync, statSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { AGENT_BIN, AGENTCTL_BIN, requireBuilt } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { httpRequest } from '../helpers/http.js'
import { freePort, requireBinary } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'
import { build } from './build.js'
import { rssMiB, startFlavour, type Flavour } from './commands.js'
import { startDockerd } from './docker.js'
import { lastValue, parseCommand, readService, runAsService, startAsService, SYSTEMD_PATH } from './systemd.js'

const PKG = 'tomcat-health-agent'
const UNIT = `/lib/systemd/system/${PKG}.service`
const DROP_IN = `/usr/share/${PKG}/systemd/tomcat10.service.d/health-agent.conf`
const TOMCAT_UNIT = '/lib/systemd/system/tomcat10.service'
const STATE_DIR = `/var/lib/${PKG}`
const DEFAULTS = `/etc/default/${PKG}`

const sh = (cmd: string, args: string[], options: { env?: Record<string, string> } = {}) => {
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, env: options.env ?? { PATH: SYSTEMD_PATH } })
  return { code: result.status, out: `${result.stdout}${result.stderr}` }
}
const exists = (kind: 'passwd' | 'group', name: string) => sh('getent', [kind, name]).code === 0
/** dpkg's status of the package: 'installed', 'config-files', ... or 'not-installed' (also when dpkg never knew it). */
const installed = () => {
  const query = sh('dpkg-query', ['-W', '-f=${db:Status-Status}', PKG])
  return query.code === 0 ? query.out.trim() : 'not-installed'
}
const keyLines = (out: string) => out.split('\n').filter((l) => /^(Selecting|Unpacking|Setting up|Removing|Purging|dpkg)/.test(l))

/** The preconditions, each failing with what to do: this test installs and purges a real package. */
function requireCleanMachine(): void {
  if (process.getuid?.() !== 0) throw new Error('the .deb test installs a package: run it as root (CI does)')
  for (const tool of ['dpkg-deb', 'lintian', 'haproxy', 'setpriv', 'useradd']) requireBinary(tool)
  const status = installed()
  if (status !== 'not-installed')
    throw new Error(`${PKG} is ${status} on this machine: dpkg -P ${PKG} first (this test installs and purges its own)`)
  for (const left of [STATE_DIR, DEFAULTS])
    if (existsSync(left)) throw new Error(`${left} exists: left by an earlier install? remove it first`)
  if (exists('passwd', PKG)) throw new Error(`user ${PKG} exists: userdel ${PKG} first`)
}

/** HAProxy on the settings haproxy-snippets/httpchk-backend.cfg recommends, checking the installed agent. */
function haproxyConfig(healthPort: number, serverPort: number): string {
  const snippet = readFileSync(join(PACKAGE_ROOT, 'haproxy-snippets/httpchk-backend.cfg'), 'utf8')
  const backend = snippet
    .split('\n')
    .filter((l) => !/^\s*server /.test(l))
    .join('\n')
    .replace('check port 9990', `check port ${healthPort}`)
  if (!backend.includes(`check port ${healthPort}`))
    throw new Error('haproxy-snippets/httpchk-backend.cfg changed: no "check port 9990" to point at the test agent')
  // timeout check 2s: on a busy machine a slow answer is a late answer, not a failed check.
  return `defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n    timeout check 2s\n\n${backend.trimEnd()}\n    server web1 127.0.0.1:${serverPort} cookie web1\n`
}

/** Each part builds what it needs; one file, so that the builds into dist/ never run at the same time. */
t.setTimeout(15 * 60_000)
let builtBinary: string | undefined

const run = (command: string[], args: string[]) => {
  const result = spawnSync(command[0] as string, [...command.slice(1), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '' },
  })
  return { code: result.status, out: `${result.stdout}${result.stderr}` }
}

t.test('the single executable runs both commands, by name and by subcommand, as the npm bundle does', async (t) => {
  const binary = build('sea')
  builtBinary = binary
  t.comment(`single executable ${binary}: ${(statSync(binary).size / 1e6).toFixed(1)} MB`)
  const links = tempDir(t)
  symlinkSync(binary, join(links, 'health-agent'))
  symlinkSync(binary, join(links, 'agentctl'))
  const flavours: Flavour[] = [
    { name: 'npm bundle', agent: [process.execPath, requireBuilt(AGENT_BIN)], agentctl: [process.execPath, requireBuilt(AGENTCTL_BIN)] },
    { name: 'binary, by subcommand', agent: [binary, 'health-agent'], agentctl: [binary, 'agentctl'] },
    { name: 'binary, by name', agent: [join(links, 'health-agent')], agentctl: [join(links, 'agentctl')] },
  ]
  for (const flavour of flavours) {
    const standalone = flavour.name !== 'npm bundle'
    const runtime = standalone
      ? /\(node v24\.\d+\.\d+, single executable\)/
      : new RegExp(`\\(node ${process.version.replace(/\./g, '\\.')}\\)`)
    for (const command of [flavour.agent, flavour.agentctl]) {
      const version = run(command, ['--version'])
      t.equal(version.code, 0)
      t.match(
        version.out,
        new RegExp(`^tomcat-health-agent ${PACKAGE_VERSION.replace(/\./g, '\\.')} ${runtime.source}\\n$`),
        `${flavour.name}: --version says both versions`,
      )
    }
    const dir = tempDir(t)
    // A YAML config: the parser must be inside the bundle, which can load nothing from disk.
    writeFileSync(join(dir, 'config.yaml'), `data-dir: ${join(dir, 'data')}\ninitial-state: drain\n`)
    const agent = await startFlavour(t, flavour, ['--config', join(dir, 'config.yaml')])
    t.equal((await httpRequest(`http://${agent.health}/health`)).status, 404, `${flavour.name}: the YAML config's initial state`)
    const ctl = (args: string[]) =>
      run(flavour.agentctl, [...args, '--agent', `http://${agent.admin}`, '--token-file', join(dir, 'data/admin-token')])
    const status = ctl(['status'])
    t.equal(status.code, 0, status.out)
    t.match(status.out, new RegExp(`agent {7}tomcat-health-agent ${PACKAGE_VERSION.replace(/\./g, '\\.')} \\(node v`))
    t.equal(ctl(['ready', '--reason', flavour.name]).code, 0)
    t.equal((await httpRequest(`http://${agent.health}/health`)).status, 200, `${flavour.name}: agentctl ready`)
    const metrics = await httpRequest(`http://${agent.health}/metrics`)
    t.equal(metrics.status, 200)
    t.match(metrics.body, /^# HELP /m, `${flavour.name}: metrics`)
    t.match(
      metrics.body,
      /^health_agent_health_connections_total\{reader="direct"\} [2-9]$/m,
      `${flavour.name}: its runtime's node:http lets the checks be read straight from the socket`,
    )
    t.equal(await agent.stop('SIGINT'), 0, `${flavour.name}: SIGINT stops it cleanly`)
  }
})

t.test('the single executable on a terminal writes pretty logs (pino-pretty is inside)', async (t) => {
  const binary = builtBinary ?? build('sea')
  const dir = tempDir(t)
  // script(1) gives the agent a terminal as standard output, as an operator's shell would.
  const command = `exec ${binary} health-agent --data-dir ${dir}/data --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`
  const child = spawn(requireBinary('script'), ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => (out += c.toString()))
  child.stderr.on('data', (c: Buffer) => (out += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  await waitFor(
    'a pretty start-up line',
    () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${out}`)
      return /INFO.*health on 127\.0\.0\.1:\d+/.test(out)
    },
    { timeoutMs: 60_000 },
  )
  t.notMatch(out, /^\{"level"/m, 'not JSON')
  t.notMatch(out, /Cannot find module|unexpected error/)
  child.stdin.write('\x03')
  child.kill('SIGTERM')
  await exited
})

t.test('cold start and idle memory: the single executable against the npm bundle, same run (report)', async (t) => {
  const binary = builtBinary ?? build('sea')
  const flavours: Flavour[] = [
    { name: 'npm bundle', agent: [process.execPath, requireBuilt(AGENT_BIN)], agentctl: [] },
    { name: 'single executable', agent: [binary, 'health-agent'], agentctl: [] },
  ]
  const samples: Record<string, { start: number[]; rss: number[] }> = {}
  // Alternating, so that the machine's load falls on both alike.
  for (let round = 0; round < 5; round++) {
    for (const flavour of flavours) {
      const dir = tempDir(t)
      const agent = await startFlavour(t, flavour, ['--data-dir', dir])
      for (let i = 0; i < 20; i++) t.equal((await httpRequest(`http://${agent.health}/health`)).status, 200)
      const entry = (samples[flavour.name] ??= { start: [], rss: [] })
      entry.start.push(agent.startMs)
      entry.rss.push(rssMiB(agent.pid))
      t.equal(await agent.stop('SIGTERM'), 0)
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  for (const [name, { start, rss }] of Object.entries(samples)) {
    t.comment(
      `${name}: cold start to listening, median of 5 ${median(start).toFixed(0)} ms (${start.map((v) => v.toFixed(0)).join(', ')}); idle RSS after 20 checks, median ${median(rss).toFixed(1)} MiB (${rss.map((v) => v.toFixed(1)).join(', ')})`,
    )
    t.ok(median(start) < 20_000 && median(rss) < 256, `${name}: within sane bounds`)
  }
})

t.test(
  'the .deb: lintian-clean; dpkg -i; the agent run as its unit; agentctl as root and as the group; the tomcat10 drop-in drains; purge leaves nothing',
  async (t) => {
    requireCleanMachine()
    const deb = build('deb', ['--binary', builtBinary ?? build('sea')])
    t.comment(`package ${deb}: ${(statSync(deb).size / 1e6).toFixed(1)} MB`)

    const lintian = sh('lintian', ['--fail-on', 'error,warning', deb])
    t.equal(lintian.code, 0, 'lintian passes')
    t.same(
      lintian.out.split('\n').filter((l) => l && !l.includes('running with root privileges')),
      [],
      `lintian says nothing:\n${lintian.out}`,
    )

    const deployUser = `thadeploy${process.pid}`
    const otherUser = `thaother${process.pid}`
    t.teardown(() => {
      // Also on failure: nothing of the package or its users stays on the machine.
      for (const user of [deployUser, otherUser]) if (exists('passwd', user)) sh('userdel', [user])
      if (installed() !== 'not-installed') sh('dpkg', ['-P', PKG])
    })

    const install = sh('dpkg', ['-i', deb])
    t.equal(install.code, 0, `dpkg -i:\n${install.out}`)
    t.comment(`dpkg -i:\n${keyLines(install.out).join('\n')}`)
    t.ok(exists('passwd', PKG) && exists('group', PKG), 'a system user and group')
    const dir = statSync(STATE_DIR)
    t.equal(dir.mode & 0o777, 0o750, 'state dir 0750')
    t.equal(sh('stat', ['-c', '%U:%G', STATE_DIR]).out.trim(), `${PKG}:${PKG}`)
    t.ok(
      lstatSync('/usr/bin/agentctl').isSymbolicLink() && lstatSync('/usr/bin/health-agent').isSymbolicLink(),
      'agentctl and health-agent are the one executable',
    )
    t.ok(existsSync(UNIT) && existsSync(DROP_IN), 'the units')
    t.notOk(existsSync('/etc/systemd/system/tomcat10.service.d/health-agent.conf'), 'the drop-in is not enabled')
    t.match(
      sh('/usr/bin/health-agent', ['--version']).out,
      /^tomcat-health-agent \d+\.\d+\.\d+ \(node v24\.\d+\.\d+, single executable\)\n$/,
    )
    t.match(
      gunzipSync(readFileSync('/usr/share/man/man1/agentctl.1.gz')).toString(),
      /^\.TH AGENTCTL 1 [^]*agentctl drain --wait/,
      'man agentctl',
    )

    // The agent on its defaults but for its two ports (free ones), set where an operator would.
    const healthPort = await freePort()
    const adminPort = await freePort()
    appendFileSync(DEFAULTS, `HEALTH_AGENT_LISTEN=127.0.0.1:${healthPort}\nHEALTH_AGENT_ADMIN_LISTEN=127.0.0.1:${adminPort}\n`)

    const unit = readService(UNIT)
    const agent = startAsService(t, unit, parseCommand(lastValue(unit, 'ExecStart') ?? ''))
    await waitFor(
      'the packaged agent to listen',
      () => {
        if (agent.child.exitCode !== null)
          throw new Error(`the agent exited with ${agent.child.exitCode}: ${agent.stderr()}${agent.stdout()}`)
        return agent.stdout().includes(`"health":"127.0.0.1:${healthPort}"`)
      },
      { timeoutMs: 60_000 },
    )
    const token = statSync(join(STATE_DIR, 'admin-token'))
    t.equal(token.mode & 0o777, 0o640, 'token readable by the group only')
    t.equal(sh('stat', ['-c', '%U:%G', join(STATE_DIR, 'admin-token')]).out.trim(), `${PKG}:${PKG}`)

    // A port nothing answers on stands for Tomcat's: HAProxy checks the agent's port, not it.
    const tomcat = createServer()
    await new Promise<void>((resolve) => tomcat.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => tomcat.close(() => resolve())))
    const work = tempDir(t)
    const lb = await startHaproxy(t, work, haproxyConfig(healthPort, (tomcat.address() as { port: number }).port), 'lb1', ['node lb1'])
    await waitFor('HAProxy to see the server UP', async () => (await lb.serverStat('tomcats', 'web1')).status === 'UP', {
      timeoutMs: 60_000,
    })

    const bare = { PATH: SYSTEMD_PATH }
    const root = sh('agentctl', ['status'], { env: bare })
    t.equal(root.code, 0, `agentctl status as root, env -i:\n${root.out}`)
    t.match(root.out, /^effective {3}ready \(HTTP 200\)/)

    t.equal(sh('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--groups', PKG, deployUser]).code, 0)
    t.equal(sh('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', otherUser]).code, 0)
    const as = (user: string, args: string[]) =>
      sh('setpriv', [`--reuid=${user}`, `--regid=${user}`, '--init-groups', '--', 'agentctl', ...args], { env: bare })
    const deployer = as(deployUser, ['drain', '--reason', 'by a deploy user', '--wait', '--timeout', '60'])
    t.equal(deployer.code, 0, `agentctl drain --wait as a member of ${PKG}:\n${deployer.out}`)
    t.match(deployer.out, /drained: confirmed by 1 load balancer/)
    const ready = as(deployUser, ['ready', '--wait', '--timeout', '60'])
    t.equal(ready.code, 0, `agentctl ready --wait as a member:\n${ready.out}`)
    const other = as(otherUser, ['status'])
    t.equal(other.code, 2, 'a user outside the group cannot')
    t.match(other.out, new RegExp(`cannot read the admin token from ${STATE_DIR}/admin-token: EACCES`))

    // The drop-in's ExecStop, run as systemd runs it for `systemctl stop tomcat10`: env -i with
    // tomcat10's environment, as root ("+"). It must find the agent by itself and see the drain confirmed.
    const tomcat10 = readService(TOMCAT_UNIT, DROP_IN)
    const stop = parseCommand(lastValue(tomcat10, 'ExecStop') ?? '')
    t.ok(stop.privileged && !stop.failureIgnored, 'ExecStop=+: as root, and a failure stops the stop')
    const drained = await runAsService(t, tomcat10, stop, 200_000)
    t.comment(`drop-in ExecStop (exit ${drained.code}):\n${drained.stdout}${drained.stderr}`)
    t.equal(drained.code, 0, 'pre-deploy: drained and down')
    t.match(drained.stdout, /drained: confirmed by 1 load balancer [^]*down: confirmed by 1 load balancer/)
    t.match(readFileSync(join(STATE_DIR, 'state'), 'utf8'), /^down .*reason="systemctl stop tomcat10"/)
    await waitFor('HAProxy to take the server out', async () => (await lb.serverStat('tomcats', 'web1')).status === 'DOWN', {
      timeoutMs: 30_000,
    })

    const start = parseCommand(lastValue(tomcat10, 'ExecStartPost') ?? '')
    const back = await runAsService(t, tomcat10, start, 200_000)
    t.comment(`drop-in ExecStartPost (exit ${back.code}):\n${back.stdout}${back.stderr}`)
    t.equal(back.code, 0, 'post-deploy: ready and UP')
    t.equal((await lb.serverStat('tomcats', 'web1')).status, 'UP')

    agent.child.kill('SIGTERM')
    t.equal(await agent.exited, 0, 'the agent stops cleanly on SIGTERM')

    const remove = sh('dpkg', ['-r', PKG])
    t.equal(remove.code, 0, remove.out)
    t.comment(`dpkg -r:\n${keyLines(remove.out).join('\n')}`)
    t.notOk(existsSync('/usr/bin/tomcat-health-agent') || existsSync('/usr/bin/agentctl'), 'remove: the executable is gone')
    t.ok(existsSync(DEFAULTS) && existsSync(join(STATE_DIR, 'state')), 'remove keeps the settings and the state')
    const purge = sh('dpkg', ['-P', PKG])
    t.equal(purge.code, 0, purge.out)
    t.comment(`dpkg -P:\n${keyLines(purge.out).join('\n')}`)
    t.notOk(existsSync(DEFAULTS) || existsSync(STATE_DIR), 'purge: no settings, no state')
    t.notOk(exists('passwd', PKG) || exists('group', PKG), 'purge: no user, no group')
    t.equal(installed(), 'not-installed')
  },
)

t.test(
  'the Docker image: the same binary on bookworm; health answers, docker exec agentctl drains, docker stop is clean, the state outlives the container',
  async (t) => {
    const binary = builtBinary ?? build('sea')
    t.equal(binary, join(PACKAGE_ROOT, 'dist/sea/tomcat-health-agent'), 'the Dockerfile copies this file')
    const base = spawnSync(join(PACKAGE_ROOT, 'packaging/docker/base-image.sh'), { encoding: 'utf8', timeout: 900_000 })
    if (base.status !== 0) throw new Error(`packaging/docker/base-image.sh failed:\n${base.stderr}`)
    const docker = await startDockerd(t)
    const tag = `tha-test-${process.pid}`
    const must = (args: string[], what: string) => {
      const result = docker.run(args)
      if (result.code !== 0) throw new Error(`docker ${what} failed (${result.code}):\n${result.out}`)
      return result.stdout.trim()
    }
    must(['import', base.stdout.trim(), `${tag}-base`], 'import of the debootstrap base')
    const built = docker.run(['build', '--build-arg', `BASE=${tag}-base`, '-t', tag, PACKAGE_ROOT], { timeoutMs: 600_000 })
    t.equal(built.code, 0, `docker build:\n${built.out}`)
    const context = /Sending build context to Docker daemon\s+([\d.]+\s*\w+)/.exec(built.out)
    t.comment(
      `build context: ${context?.[1] ?? 'not reported'}; image: ${must(['image', 'inspect', '-f', '{{.Size}}', tag], 'inspect')} bytes`,
    )

    const healthPort = await freePort()
    const adminPort = await freePort()
    const volume = `${tag}-state`
    const runContainer = (name: string) =>
      must(
        [
          'run',
          '-d',
          '--name',
          name,
          '--network',
          'host',
          '-v',
          `${volume}:/var/lib/tomcat-health-agent`,
          '-e',
          `HEALTH_AGENT_LISTEN=127.0.0.1:${healthPort}`,
          '-e',
          `HEALTH_AGENT_ADMIN_LISTEN=127.0.0.1:${adminPort}`,
          tag,
        ],
        `run ${name}`,
      )
    const check = async () => {
      try {
        return (await httpRequest(`http://127.0.0.1:${healthPort}/health`)).status
      } catch {
        return 0
      }
    }
    runContainer(`${tag}-1`)
    await waitFor('the container to answer', async () => (await check()) === 200, { timeoutMs: 60_000, intervalMs: 200 })
    const drained = docker.run(['exec', `${tag}-1`, 'agentctl', 'drain', '--reason', 'docker test'])
    t.equal(drained.code, 0, `docker exec agentctl drain:\n${drained.out}`)
    t.equal(await check(), 404, 'drained: 404')
    const health = await waitFor(
      'the HEALTHCHECK to report',
      () => {
        const status = docker.run(['inspect', '-f', '{{.State.Health.Status}}', `${tag}-1`]).stdout.trim()
        return status === 'starting' ? undefined : status
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    t.equal(health, 'healthy', 'a drained agent is a healthy container')
    t.notMatch(must(['top', `${tag}-1`, '-eo', 'pid,comm'], 'top'), /node|agentctl/, 'no second runtime left running by the health check')

    const stopped = Date.now()
    must(['stop', '-t', '20', `${tag}-1`], 'stop')
    t.ok(Date.now() - stopped < 20_000, 'docker stop did not have to kill')
    t.equal(must(['inspect', '-f', '{{.State.ExitCode}}', `${tag}-1`], 'inspect'), '0', 'exit code 0 on SIGTERM')
    t.match(
      must(['logs', `${tag}-1`], 'logs')
        .trim()
        .split('\n')
        .at(-1),
      /"msg":"stopped"/,
      'the last log line',
    )
    must(['rm', `${tag}-1`], 'rm')

    runContainer(`${tag}-2`)
    await waitFor('the new container to answer', async () => (await check()) !== 0, { timeoutMs: 60_000, intervalMs: 200 })
    t.equal(await check(), 404, 'a new container on the same volume is still drained')
    must(['rm', '-f', `${tag}-2`], 'rm')
    must(['volume', 'rm', volume], 'volume rm')
    must(['image', 'rm', tag, `${tag}-base`], 'image rm')
  },
)
