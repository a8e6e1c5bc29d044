import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { createNetwork } from '../helpers/netns.js'
import { ensurePrivsepDir, makeClientKeys, startSshd, type ClientKeys } from '../helpers/sshd.js'
import { requireBinary } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

/**
 * rolling-deploy over real ssh to hosts in network namespaces whose sshd gives root dash as its
 * login shell (the shell that parses what ssh sends; bash's printf %q output is not safe there).
 * On each host, agent-dir holds a deploy-war that stands for the real one (the fleet test runs the
 * real one over ssh): it records the arguments and the WAR it was given, logs a step like
 * deploy-war, and holds in that step while the test says so. What is under test is how the
 * values, the WAR and the run get to the host and what is left there.
 */

const PREFIX = '10.249.24'

// A deploy-war on the test host: records its arguments (NUL-separated) and the WAR, one call
// after another; holds in its step while DIR/hold exists, until DIR/release does (60 s at most).
const RECORDER = `#!/bin/bash
dir="\${0%/scripts/deploy-war}"
printf x >>"$dir/calls"
n="$(stat -c %s "$dir/calls")"
printf '%s\\0' "$@" >"$dir/argv.$n"
cp -- "$2" "$dir/war.$n"
echo "deploy-war: step: stop tomcat" >&2
if [ -e "$dir/hold" ]; then
  for _ in $(seq 1 1200); do [ -e "$dir/release" ] && break; sleep 0.05; done
fi
echo "deploy-war: done: stop tomcat" >&2
echo "deploy-war: deployed" >&2
touch "$dir/finished.$n"
`

interface Host {
  name: string
  address: string
  agentDir: string
  base: string
}

interface Roll {
  code: number | null
  output: string
}

function makeHost(dir: string, name: string, address: string): Host {
  const agentDir = join(dir, name, 'agent')
  const base = join(dir, name, 'tomcat')
  mkdirSync(join(agentDir, 'scripts'), { recursive: true })
  mkdirSync(join(base, 'webapps'), { recursive: true })
  writeFileSync(join(agentDir, 'scripts/deploy-war'), RECORDER)
  chmodSync(join(agentDir, 'scripts/deploy-war'), 0o755)
  return { name, address, agentDir, base }
}

function startRoll(client: ClientKeys, inventory: string, war: string, extra: string[] = []) {
  const sshOptions = client.sshOptions.flatMap((o) => ['--ssh-option', o])
  const child = spawn(
    'bash',
    [join(PACKAGE_ROOT, 'scripts/rolling-deploy'), '--inventory', inventory, '--war', war, ...sshOptions, '--', ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' },
    },
  )
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const done = new Promise<Roll>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
  return { child, output: () => output, done }
}

const roll = (client: ClientKeys, inventory: string, war: string, extra: string[] = []) => startRoll(client, inventory, war, extra).done

const argvOf = (host: Host, call: number) =>
  readFileSync(join(host.agentDir, `argv.${call}`), 'utf8')
    .split('\0')
    .slice(0, -1)
const calls = (host: Host) => (existsSync(join(host.agentDir, 'calls')) ? readFileSync(join(host.agentDir, 'calls'), 'utf8').length : 0)
const records = (host: Host) => (existsSync(join(host.base, 'deploy-history')) ? readdirSync(join(host.base, 'deploy-history')) : [])

/** The processes below `pid` (by their parent), read from /proc. */
function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const parents = new Map<number, Array<{ pid: number; comm: string }>>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const ppid = Number(stat.slice(close + 2).split(' ')[1])
      parents.set(ppid, [...(parents.get(ppid) ?? []), { pid: Number(entry), comm }])
    } catch {
      // gone meanwhile
    }
  }
  const found: Array<{ pid: number; comm: string }> = []
  const walk = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      found.push(child)
      walk(child.pid)
    }
  }
  walk(pid)
  return found
}

t.test('rolling-deploy over ssh to a host whose login shell is dash', async (t) => {
  for (const binary of ['ip', 'sshd', 'ssh', 'ssh-keygen', 'unshare', 'prlimit']) requireBinary(binary)
  const dir = tempDir(t, 'health-agent-ssh-')
  const network = createNetwork({ tag: 'thassh', prefix: PREFIX, count: 2 })
  t.teardown(() => {
    const errors = network.remove()
    if (errors.length > 0) throw new Error(errors.join('; '))
  })
  t.teardown(ensurePrivsepDir())
  const client = makeClientKeys(join(dir, 'client'))
  const [n1, n2] = network.hosts as [(typeof network.hosts)[0], (typeof network.hosts)[0]]
  await startSshd({ namespace: n1.namespace, address: n1.address, dir: join(dir, 'sshd1'), client, rootShell: '/bin/sh' })
  // h2's sessions may not write a file over 64 KiB: a copy of a bigger WAR fails there.
  await startSshd({
    namespace: n2.namespace,
    address: n2.address,
    dir: join(dir, 'sshd2'),
    client,
    rootShell: '/bin/sh',
    prefix: [requireBinary('prlimit'), '--fsize=65536', '--'],
  })
  const h1 = makeHost(dir, 'h1', n1.address)
  const h2 = makeHost(dir, 'h2', n2.address)
  const war = join(dir, 'app.war')
  // 200 KiB that no text transfer would keep: every byte value, over and over.
  writeFileSync(
    war,
    Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(200 * 1024, Buffer.from(Array.from({ length: 256 }, (_, i) => i)))]),
  )
  const pwned = join(dir, 'pwned')
  mkdirSync(pwned)
  const inventory = join(dir, 'hosts')
  const line = (host: Host, more: string) =>
    `${host.name} ssh=root@${host.address} agent-dir=${host.agentDir} catalina-base=${host.base} ${more}\n`

  await t.test('the remote login shell is dash', async (t) => {
    const shell = await new Promise<string>((resolve) => {
      const child = spawn('ssh', [...client.sshOptions, `root@${h1.address}`, 'readlink /proc/$$/exe'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let out = ''
      child.stdout.on('data', (c: Buffer) => (out += c.toString()))
      child.on('close', () => resolve(out.trim()))
    })
    t.equal(shell, '/usr/bin/dash')
  })

  await t.test('inventory values reach deploy-war byte for byte and run nothing; the WAR goes to a mktemp folder', async (t) => {
    // A control character and a quote: bash's %q writes $'\001...', which dash does not read as
    // a quote, so the rest of the value ran as a command (and # hid the line's end).
    const reason = `\u0001';touch ${pwned}/1;#`
    const stopCmd = `a"b $(touch ${pwned}/2) \`touch ${pwned}/3\` ; touch ${pwned}/4 \u001b[31m\t|&<>*?~ 'c' \\ end`
    const timeout = `1\n; touch ${pwned}/5\r\n$(touch ${pwned}/6)`
    const quoted = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    writeFileSync(inventory, line(h1, `reason=${quoted(reason)}`))
    const alone = await roll(client, inventory, war)
    t.equal(alone.code, 0, alone.output)
    t.same(argvOf(h1, 1).slice(2), ['--catalina-base', h1.base, '--reason', reason], 'the control character and the quote as they were')
    t.same(readdirSync(pwned), [], 'and nothing ran')

    writeFileSync(inventory, line(h1, `reason=${quoted(reason)} stop-cmd=${quoted(stopCmd)}`))
    const result = await roll(client, inventory, war, ['--drain-timeout', timeout])
    t.equal(result.code, 0, result.output)
    t.equal(calls(h1), 2, 'deploy-war ran once a roll')
    const argv = argvOf(h1, 2)
    t.same(
      argv.slice(2),
      ['--catalina-base', h1.base, '--reason', reason, '--stop-cmd', stopCmd, '--drain-timeout', timeout],
      'every value as it was',
    )
    t.equal(argv[0], '--war')
    t.match(
      argv[1],
      new RegExp(`^${h1.base}/deploy-history/\\.rolling-deploy\\.[A-Za-z0-9]{10}/war/app\\.war$`),
      'the WAR in a folder made by mktemp',
    )
    t.ok(readFileSync(join(h1.agentDir, 'war.2')).equals(readFileSync(war)), 'the WAR arrived byte for byte')
    t.same(readdirSync(pwned), [], 'nothing in the values ran')
    t.same(records(h1), [], 'no record left after a run that ended')
    t.match(result.output, /\[1\/1 h1\] deploy-war: step: stop tomcat/, "deploy-war's output, marked with its host")
  })

  await t.test('ssh= that is an ssh option is refused up front', async (t) => {
    writeFileSync(inventory, `h1 "ssh=-oProxyCommand=touch ${pwned}/proxy" agent-dir=${h1.agentDir}\n`)
    const result = await roll(client, inventory, war)
    t.equal(result.code, 2, result.output)
    t.match(result.output, /hosts:1: ssh=: expected \[USER@\]HOST, got '-oProxyCommand=/)
    t.same(readdirSync(pwned), [], 'the proxy command did not run')
  })

  await t.test('without agent-dir=, the Debian package is looked for first, then /opt', async (t) => {
    writeFileSync(inventory, `h1 ssh=root@${h1.address} catalina-base=${h1.base}\n`)
    const result = await roll(client, inventory, war)
    t.equal(result.code, 1, result.output)
    t.match(
      result.output,
      /error: no scripts\/deploy-war in \/usr\/lib\/tomcat-health-agent \(the Debian package\) or \/opt\/tomcat-health-agent: install the package there, or set agent-dir= in the inventory/,
    )
  })

  await t.test('a failed copy stops that host with a clear line, before deploy-war', async (t) => {
    writeFileSync(inventory, `${line(h2, '')}${line(h1, '')}`)
    const before = calls(h1)
    const result = await roll(client, inventory, war)
    t.equal(result.code, 1, result.output)
    t.match(result.output, /\[1\/2 h2\] rolling-deploy@\S+: error: copying the WAR .* failed.*nothing changed here/)
    t.match(result.output, /h2 +FAILED \(exit 1\)/)
    t.match(result.output, /h1 +not started \(untouched\)/)
    t.equal(calls(h2), 0, 'deploy-war never ran on h2')
    t.equal(calls(h1), before, 'nor on h1')
    t.same(records(h2), [], 'and no partial copy is left')
  })

  await t.test('a lost connection: the deploy goes on there, and the next runs say how it stands', async (t) => {
    writeFileSync(inventory, line(h1, ''))
    writeFileSync(join(h1.agentDir, 'hold'), '')
    const before = calls(h1)
    const first = startRoll(client, inventory, war)
    await waitFor('deploy-war in its step on h1', () => first.output().includes('deploy-war: step: stop tomcat'), { timeoutMs: 30_000 })
    const ssh = descendants(first.child.pid as number).filter((p) => p.comm === 'ssh')
    t.equal(ssh.length, 1, 'one ssh client')
    process.kill(ssh[0]!.pid, 'SIGKILL')
    const lost = await first.done
    t.not(lost.code, 0, lost.output)
    t.match(lost.output, /lost the connection to root@\S+ \(exit \d+\): a deploy that had begun goes on there/)

    const again = await roll(client, inventory, war)
    t.equal(again.code, 1, again.output)
    t.match(
      again.output,
      /a previous deploy is still running here \(started .*, pid \d+, now at: stop tomcat; log .*\): wait for it to end/,
    )
    t.equal(calls(h1), before + 1, 'no second deploy-war while the first runs')

    writeFileSync(join(h1.agentDir, 'release'), '')
    await waitFor('the first deploy-war to end on its own', () => existsSync(join(h1.agentDir, `finished.${before + 1}`)), {
      timeoutMs: 30_000,
    })
    await waitFor('its exit status in the record', () => records(h1).some((r) => existsSync(join(h1.base, 'deploy-history', r, 'exit'))), {
      timeoutMs: 30_000,
    })
    const last = await roll(client, inventory, war)
    t.equal(last.code, 0, last.output)
    t.match(last.output, /a previous deploy here \(started .*\) lost its connection and ended on its own: exit 0, deployed/)
    t.match(last.output, /\| deploy-war: deployed/, 'with its log')
    t.equal(calls(h1), before + 2, 'then this run deployed')
    t.same(records(h1), [], 'and no record is left')
  })

  await t.test('a deploy whose process died on the host (a reboot, a kill): the next run stops and says what to check', async (t) => {
    writeFileSync(inventory, line(h1, ''))
    rmSync(join(h1.agentDir, 'release'))
    const before = calls(h1)
    const first = startRoll(client, inventory, war)
    await waitFor('deploy-war in its step on h1', () => first.output().includes('deploy-war: step: stop tomcat'), { timeoutMs: 30_000 })
    const [record] = records(h1)
    const pid = Number(readFileSync(join(h1.base, 'deploy-history', record!, 'pid'), 'utf8'))
    // The detached step leads its own session: its group is it and the deploy-war it runs.
    process.kill(-pid, 'SIGKILL')
    t.not((await first.done).code, 0)

    const next = await roll(client, inventory, war)
    t.equal(next.code, 1, next.output)
    t.match(
      next.output,
      /a previous deploy here \(started .*\) stopped at: stop tomcat, without finishing \(its process is gone; log .*\): check the host \(agentctl status; deploy-war --rollback if needed\), then remove (\S+) and run rolling-deploy again/,
    )
    t.equal(calls(h1), before + 1, 'nothing ran meanwhile')
    rmSync(join(h1.base, 'deploy-history', record!), { recursive: true })
    writeFileSync(join(h1.agentDir, 'release'), '')
    const after = await roll(client, inventory, war)
    t.equal(after.code, 0, after.output)
    t.equal(calls(h1), before + 2, 'once the record is removed, the host is deployed')
  })
})
