import { spawnSync } from 'node:child_process'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { bootHosts, hostImage, type BootedHost } from '../helpers/nspawn.js'
import { requireBinary } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'
import { build } from './build.js'

/**
 * The Debian package as systemd runs it: installed on a booted bookworm host (systemd as PID 1,
 * Debian's tomcat10), started with `systemctl enable --now` on its defaults, under its sandbox.
 * Then the tomcat10 drop-in's stop and start with no load balancer and with HAProxy checking, an
 * upgrade, and a purge of the running agent.
 */

const PKG = 'tomcat-health-agent'
const UNIT_FILE = join(PACKAGE_ROOT, 'scripts/systemd/tomcat-health-agent.service')
const DROP_IN = `/usr/share/${PKG}/systemd/tomcat10.service.d/health-agent.conf`
const DROP_IN_LINK = '/etc/systemd/system/tomcat10.service.d/health-agent.conf'
/** The score the unit must keep, offline and on the booted host (issues 24 and 27). */
const MAX_EXPOSURE = 2.5

t.setTimeout(20 * 60_000)

function exposure(out: string): number {
  const match = /Overall exposure level for [^:]+: ([\d.]+)/.exec(out)
  if (!match) throw new Error(`systemd-analyze security printed no overall exposure:\n${out}`)
  return Number(match[1])
}

/** Runs a command on the host and fails the test with its output if it does not exit 0. */
function must(host: BootedHost, argv: string[], timeoutMs?: number): string {
  const result = host.run(argv, { timeoutMs })
  if (result.code !== 0) throw new Error(`${host.name}: ${argv.join(' ')} exited ${result.code}:\n${result.out}`)
  return result.stdout
}

/** The journal of a unit after a mark (a cursor from clock(); 0: the whole journal). */
const journal = (host: BootedHost, unit: string, mark: string | 0) =>
  must(host, ['journalctl', '--no-pager', '-o', 'cat', '-u', unit, ...(mark ? [`--after-cursor=${mark}`] : [])])
/** What the drop-in's hooks said, from a tomcat10 journal (for the report). */
const hookLines = (log: string) =>
  log
    .split('\n')
    .filter((l) => /^(pre-deploy|post-deploy|drained|down|ready):|^\[/.test(l))
    .join('\n')
/** A mark in the host's journal: what is logged after it is what comes next. */
const clock = (host: BootedHost) => {
  const cursor = /^-- cursor: (.+)$/m.exec(must(host, ['journalctl', '--no-pager', '-n', '1', '--show-cursor', '-o', 'cat']))?.[1]
  if (!cursor) throw new Error(`${host.name}: journalctl printed no cursor`)
  return cursor
}
const mainPid = (host: BootedHost) => Number(/^MainPID=(\d+)$/m.exec(must(host, ['systemctl', 'show', '-p', 'MainPID', PKG]))?.[1])
/** One check, as a person's curl: a one-off (polling /health would make the test a regular checker, a load balancer). */
const checkStatus = (host: BootedHost, url = 'http://127.0.0.1:9990/health') =>
  host.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', url]).stdout
/** What the agent answers, asked through agentctl (the admin API), not the check. */
const answers = (host: BootedHost) => /^effective\s+(\S+)/m.exec(host.run(['agentctl', 'status']).stdout)?.[1]

/** HAProxy on the settings haproxy-snippets/httpchk-backend.cfg recommends, checking this host's agent. */
function haproxyConfig(): string {
  const snippet = readFileSync(join(PACKAGE_ROOT, 'haproxy-snippets/httpchk-backend.cfg'), 'utf8')
  const backend = snippet
    .split('\n')
    .filter((l) => !/^\s*server /.test(l))
    .join('\n')
  if (!backend.includes('check port 9990')) throw new Error('haproxy-snippets/httpchk-backend.cfg changed: no "check port 9990"')
  return `global\n    node lb1\n\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\n${backend.trimEnd()}\n    server web1 127.0.0.1:8080 cookie web1\n`
}

t.test('the Debian package on a booted bookworm host', async (t) => {
  for (const tool of ['systemd-analyze', 'curl', 'flock']) requireBinary(tool)
  const offline = spawnSync('systemd-analyze', ['security', '--offline=true', UNIT_FILE], { encoding: 'utf8' })
  t.comment(`offline: ${offline.stdout.trim().split('\n').at(-1)}`)
  t.ok(exposure(offline.stdout) <= MAX_EXPOSURE, `offline score ${exposure(offline.stdout)} <= ${MAX_EXPOSURE}`)

  const imageStarted = performance.now()
  const image = hostImage()
  t.comment(`host image ${image}: ready in ${((performance.now() - imageStarted) / 1000).toFixed(1)} s (built once per recipe)`)
  const work = tempDir(t)
  const sea = build('sea')
  const deb = build('deb', ['--binary', sea, '--out', join(work, 'v1')])
  const newer = `${PACKAGE_VERSION}+upgrade1`
  const upgrade = build('deb', ['--binary', sea, '--out', join(work, 'v2'), '--package-version', newer])

  const bootStarted = performance.now()
  const booted = await bootHosts(t, image, { tag: `thab${process.pid % 100_000}`, count: 1, network: { prefix: '203.0.113' } })
  const host = booted.hosts[0] as BootedHost
  t.comment(`${host.name} booted in ${((performance.now() - bootStarted) / 1000).toFixed(1)} s`)
  copyFileSync(deb, join(host.root, 'root/v1.deb'))
  copyFileSync(upgrade, join(host.root, 'root/v2.deb'))

  await t.test('dpkg -i, enable --now on the defaults: the agent runs sandboxed, named health-agent, 200 with Tomcat up', async (t) => {
    const install = host.run(['dpkg', '-i', '/root/v1.deb'])
    t.equal(install.code, 0, `dpkg -i:\n${install.out}`)
    t.equal(
      host.run(['systemctl', 'is-enabled', PKG]).stdout.trim(),
      'disabled',
      'installed, not enabled (the operator sets the Tomcat URL first)',
    )
    // README, "From the Debian package": the Tomcat URL, then enable --now; nothing else changed.
    writeFileSync(
      join(host.root, 'etc/default', PKG),
      `${readFileSync(join(host.root, 'etc/default', PKG), 'utf8')}HEALTH_AGENT_TOMCAT_URL=http://127.0.0.1:8080/\n`,
    )
    const enable = host.run(['systemctl', 'enable', '--now', PKG])
    t.equal(enable.code, 0, `systemctl enable --now:\n${enable.out}`)
    await waitFor('the agent to answer ready with Tomcat up', () => answers(host) === 'ready', { timeoutMs: 180_000, intervalMs: 250 })
    t.equal(checkStatus(host), '200', '/health answers 200')
    t.equal(host.run(['systemctl', 'show', '-p', 'NRestarts', '--value', PKG]).stdout.trim(), '0', 'started once, no restart')
    const fromNetwork = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        booted.namespace as string,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        `http://${host.address}:9990/health`,
      ],
      { encoding: 'utf8' },
    )
    t.equal(fromNetwork.stdout, '200', 'the health listener (0.0.0.0:9990, the default) answers from the network')

    const status = host.run(['systemctl', 'status', '--no-pager', '--lines', '3', PKG])
    t.comment(`systemctl status ${PKG}:\n${status.stdout}`)
    t.match(status.stdout, /Active: active \(running\)/)
    t.match(status.stdout, /Main PID: \d+ \(health-agent\)/, 'systemctl status names the process health-agent')
    const pgrep = host.run(['pgrep', '-x', 'health-agent'])
    t.equal(pgrep.stdout.trim(), String(mainPid(host)), 'pgrep -x health-agent finds the main process')

    const online = must(host, ['systemd-analyze', 'security', '--no-pager', PKG])
    t.comment(`online: ${online.trim().split('\n').at(-1)}`)
    t.ok(exposure(online) <= MAX_EXPOSURE, `online score ${exposure(online)} <= ${MAX_EXPOSURE}`)
    t.notMatch(journal(host, PKG, 0), /uv_interface_addresses|unexpected error|\n\s+at /, 'no stack, no interface lookup in the journal')
  })

  await t.test('a bad setting under systemd: one line in the journal, exit 78, no restart loop', async (t) => {
    const defaults = join(host.root, 'etc/default', PKG)
    const good = readFileSync(defaults, 'utf8')
    t.teardown(() => writeFileSync(defaults, good))
    writeFileSync(defaults, `${good}HEALTH_AGENT_LISTEN=0.0.0.0:99999\n`)
    const mark = clock(host)
    // Type=simple: systemctl returns once the process is started; the unit fails right after.
    host.run(['systemctl', 'restart', PKG])
    await waitFor('the unit to fail', () => host.run(['systemctl', 'is-failed', PKG]).stdout.trim() === 'failed', {
      timeoutMs: 30_000,
      intervalMs: 100,
    })
    t.equal(must(host, ['systemctl', 'show', '-p', 'ExecMainStatus', '--value', PKG]).trim(), '78', 'exit 78: bad settings')
    t.equal(must(host, ['systemctl', 'show', '-p', 'NRestarts', '--value', PKG]).trim(), '0', 'not restarted (RestartPreventExitStatus)')
    const said = must(host, ['journalctl', '--no-pager', '-o', 'cat', '-u', PKG, `--after-cursor=${mark}`, '_TRANSPORT=stdout'])
      .split('\n')
      .filter((l) => l.startsWith('health-agent:'))
    t.equal(said.length, 1, `one line: ${said.join(' | ')}`)
    t.match(said[0], /^health-agent: .*listen.*99999/, 'naming the setting and the value')
    writeFileSync(defaults, good)
    must(host, ['systemctl', 'reset-failed', PKG])
    must(host, ['systemctl', 'start', PKG])
    await waitFor('the agent to answer ready again', () => answers(host) === 'ready', { timeoutMs: 60_000, intervalMs: 250 })
  })

  await t.test('the tomcat10 drop-in with no load balancer: stop and start in seconds, said in the journal, never failed', async (t) => {
    must(host, ['mkdir', '-p', '/etc/systemd/system/tomcat10.service.d'])
    must(host, ['ln', '-s', DROP_IN, DROP_IN_LINK])
    must(host, ['systemctl', 'daemon-reload'])
    // The agent must have been up a whole stale window (10 s) with no checker before it says so.
    await waitFor(
      'the agent to be up 10 s',
      () => Date.now() - Date.parse(must(host, ['systemctl', 'show', '-p', 'ActiveEnterTimestamp', '--value', PKG]).trim()) > 10_500,
      { timeoutMs: 30_000, intervalMs: 500 },
    )
    const since = clock(host)
    const stop = host.run(['systemctl', 'stop', 'tomcat10'], { timeoutMs: 300_000 })
    t.comment(`systemctl stop tomcat10, no load balancer: exit ${stop.code} in ${stop.seconds.toFixed(2)} s`)
    t.equal(stop.code, 0, stop.out)
    t.ok(stop.seconds < 15, `stopped in ${stop.seconds.toFixed(2)} s`)
    t.equal(host.run(['systemctl', 'is-failed', 'tomcat10']).stdout.trim(), 'inactive', 'tomcat10 is stopped, not failed')
    const stopLog = journal(host, 'tomcat10', since)
    t.comment(hookLines(stopLog))
    t.match(
      stopLog,
      /drained: no load balancer checks this server[^\n]*nothing to drain or confirm/,
      'the journal says why nothing was confirmed',
    )
    const audit = readFileSync(join(host.root, 'var/lib', PKG, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .slice(-2)
    for (const line of audit)
      t.match(JSON.parse(line), { reason: 'systemctl stop tomcat10', by: `root@${host.name}` }, 'by= names root, who asked')

    const startSince = clock(host)
    const start = host.run(['systemctl', 'start', 'tomcat10'], { timeoutMs: 300_000 })
    t.comment(
      `systemctl start tomcat10, no load balancer: exit ${start.code} in ${start.seconds.toFixed(2)} s (Tomcat's own start included)`,
    )
    t.equal(start.code, 0, start.out)
    t.equal(host.run(['systemctl', 'is-active', 'tomcat10']).stdout.trim(), 'active')
    const startLog = journal(host, 'tomcat10', startSince)
    t.comment(hookLines(startLog))
    t.match(startLog, /ready: no load balancer checks this server/, 'the start says so too')
    t.equal(checkStatus(host), '200', 'ready once Tomcat answers')
  })

  await t.test('the tomcat10 drop-in with HAProxy checking: stop and start confirmed by it', async (t) => {
    writeFileSync(join(host.root, 'etc/haproxy/haproxy.cfg'), haproxyConfig())
    must(host, ['systemctl', 'start', 'haproxy'])
    t.teardown(() => host.run(['systemctl', 'stop', 'haproxy']))
    await waitFor('the agent to see HAProxy', () => /"lb":\s*"lb1"/.test(host.run(['agentctl', 'status', '--json']).stdout), {
      timeoutMs: 60_000,
      intervalMs: 200,
    })
    const since = clock(host)
    const stop = host.run(['systemctl', 'stop', 'tomcat10'], { timeoutMs: 300_000 })
    t.comment(`systemctl stop tomcat10, HAProxy checking: exit ${stop.code} in ${stop.seconds.toFixed(2)} s`)
    t.equal(stop.code, 0, stop.out)
    const stopLog = journal(host, 'tomcat10', since)
    t.comment(hookLines(stopLog))
    t.match(
      stopLog,
      /drained: confirmed by 1 load balancer [^\n]*\(lb1 tomcats\/web1 NOLB[^]*down: confirmed by 1 load balancer [^\n]*\(lb1 tomcats\/web1 (NOLB|DOWN)/,
      'confirmed by HAProxy',
    )
    t.notMatch(stopLog, /no load balancer checks/)
    const startSince = clock(host)
    const start = host.run(['systemctl', 'start', 'tomcat10'], { timeoutMs: 300_000 })
    t.comment(
      `systemctl start tomcat10, HAProxy checking: exit ${start.code} in ${start.seconds.toFixed(2)} s (Tomcat's own start included)`,
    )
    t.equal(start.code, 0, start.out)
    const withLb = journal(host, 'tomcat10', startSince)
    t.comment(hookLines(withLb))
    t.match(withLb, /ready: confirmed by 1 load balancer [^\n]*\(lb1 tomcats\/web1 UP/, 'HAProxy has it UP again')
  })

  await t.test('an upgrade restarts the agent on the new executable and keeps its state, token and audit log', async (t) => {
    must(host, ['agentctl', 'drain', '--reason', 'before the upgrade'])
    const data = join(host.root, 'var/lib', PKG)
    const before = {
      pid: mainPid(host),
      token: readFileSync(join(data, 'admin-token'), 'utf8'),
      state: readFileSync(join(data, 'state'), 'utf8'),
      audit: readFileSync(join(data, 'audit.log'), 'utf8'),
    }
    const upgraded = host.run(['dpkg', '-i', '/root/v2.deb'])
    t.equal(upgraded.code, 0, `dpkg -i (upgrade):\n${upgraded.out}`)
    t.equal(must(host, ['dpkg-query', '-W', '-f=${Version}', PKG]), newer)
    await waitFor(
      'the agent to run again',
      () => host.run(['systemctl', 'is-active', PKG]).stdout.trim() === 'active' && mainPid(host) > 0,
      { timeoutMs: 30_000, intervalMs: 100 },
    )
    const pid = mainPid(host)
    t.not(pid, before.pid, 'a new process')
    t.notMatch(must(host, ['readlink', `/proc/${pid}/exe`]), /deleted/, 'running the installed executable, not a deleted one')
    t.equal(readFileSync(join(data, 'admin-token'), 'utf8'), before.token, 'the token kept')
    t.equal(readFileSync(join(data, 'state'), 'utf8'), before.state, 'the state kept')
    t.ok(readFileSync(join(data, 'audit.log'), 'utf8').startsWith(before.audit), 'the audit log kept')
    await waitFor('the upgraded agent to answer drain', () => answers(host) === 'drain', { timeoutMs: 30_000, intervalMs: 100 })
    t.equal(checkStatus(host), '404', 'still drained: 404')
  })

  await t.test('purge of the running agent removes everything it made; tomcat10 still stops', async (t) => {
    const purge = host.run(['dpkg', '-P', PKG])
    t.comment(`dpkg -P ${PKG}:\n${purge.out}`)
    t.equal(purge.code, 0)
    t.equal(host.run(['pgrep', '-x', 'health-agent']).code, 1, 'no agent process left')
    t.equal(host.run(['getent', 'passwd', PKG]).code, 2, 'no user')
    t.equal(host.run(['getent', 'group', PKG]).code, 2, 'no group')
    for (const path of [
      `/var/lib/${PKG}`,
      `/etc/default/${PKG}`,
      `/etc/systemd/system/multi-user.target.wants/${PKG}.service`,
      DROP_IN_LINK,
    ])
      t.equal(host.run(['test', '-e', path, '-o', '-L', path]).code, 1, `${path} is gone`)
    t.equal(checkStatus(host), '000', 'nothing answers on 9990')
    const stop = host.run(['systemctl', 'stop', 'tomcat10'])
    t.equal(stop.code, 0, `systemctl stop tomcat10 after the purge:\n${stop.out}`)
    t.equal(host.run(['systemctl', 'is-failed', 'tomcat10']).stdout.trim(), 'inactive')
  })

  const seconds = await host.poweroff()
  t.comment(`${host.name} powered off in ${seconds.toFixed(1)} s`)
})
