import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { removeOnExit, requireBinary, type Teardowns } from './system.js'
import { waitFor } from './wait.js'

/**
 * Booted hosts for tests: Debian bookworm containers with systemd as PID 1, made by
 * systemd-nspawn from one image (packaging/nspawn/host-image.sh), each on an overlay of its own
 * so the image stays pristine and N hosts cost one image. There is no systemd on the test
 * machine, so no machined: each container runs with --register=no --keep-unit, in a cgroup of
 * its own (nspawn puts its payload/ and supervisor/ cgroups under its caller's), and commands run
 * inside through nsenter. Removal is synchronous (it can run from a signal or exit handler) and
 * leaves nothing: no process, cgroup, mount, namespace or temp dir.
 */

/** systemd's PATH inside the container, given to every command run there (env -i). */
const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
/** The cgroup hierarchies nspawn makes cgroups in on this machine (cgroup v1 name=systemd + v2). */
const HIERARCHIES = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified']

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  /** stdout then stderr, for messages. */
  out: string
  seconds: number
}

export interface BootedHost {
  name: string
  /** The container's / as seen from the test machine: write files into it before or after boot. */
  root: string
  /** The container's init (PID 1 inside), as a PID of the test machine. */
  leader: number
  /** The address on the bridge, when the hosts have a network; null on a private loopback-only one. */
  address: string | null
  /** Runs a command inside (all its namespaces), with a clean environment and systemd's PATH. */
  run(argv: string[], options?: { timeoutMs?: number; input?: string }): RunResult
  /** The console output so far (the boot messages). */
  console(): string
  /** An orderly shutdown (systemd's poweroff), then removal; resolves with the seconds the shutdown took. */
  poweroff(timeoutMs?: number): Promise<number>
}

export interface HostsOptions {
  /** Unique among concurrent runs: names the cgroups, the namespace and the machines. */
  tag: string
  count: number
  /**
   * A bridge in a network namespace of the test's own (never the root one) with `prefix`.1, and
   * each host on it at `prefix`.(11 + i). Without it each host has a private network: loopback only.
   */
  network?: { prefix: string }
}

export interface BootedHosts {
  hosts: BootedHost[]
  /** The network namespace that holds the bridge (run `ip netns exec NS ...` to reach the hosts), or null. */
  namespace: string | null
  /** Removes every host and the network now. Synchronous; safe to call twice. */
  remove(): void
}

/** The booted-host image, built once per recipe (about a minute and a half from Debian's mirror). */
export function hostImage(): string {
  for (const tool of ['systemd-nspawn', 'nsenter', 'debootstrap', 'ip']) requireBinary(tool)
  if (process.getuid?.() !== 0) throw new Error('booted hosts need root (systemd-nspawn, mounts, cgroups): run this test as root (CI does)')
  for (const hierarchy of HIERARCHIES)
    if (!existsSync(join(hierarchy, 'cgroup.procs')))
      throw new Error(`booted hosts need the cgroup hierarchy ${hierarchy}: not mounted here`)
  const built = spawnSync(join(PACKAGE_ROOT, 'packaging/nspawn/host-image.sh'), { encoding: 'utf8', timeout: 1_200_000 })
  if (built.status !== 0) throw new Error(`packaging/nspawn/host-image.sh failed (${built.status ?? built.signal}):\n${built.stderr}`)
  return built.stdout.trim()
}

function must(argv: string[], what: string): string {
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 60_000 })
  if (result.status !== 0) throw new Error(`${what}: ${argv.join(' ')} failed: ${result.stderr}${result.stdout}`.trim())
  return result.stdout
}

/** Every PID in a cgroup and its children. */
function cgroupPids(dir: string): number[] {
  if (!existsSync(dir)) return []
  const own = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number)
  const children = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory())
  return [...own, ...children.flatMap((child) => cgroupPids(join(dir, child.name)))]
}

/** Removes a cgroup tree, deepest first (a cgroup with processes or children cannot be removed). */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroup(join(dir, entry.name))
  rmdirSync(dir)
}

/** The container's init: the process of the cgroup whose PID in its own namespace is 1. */
function findLeader(cgroup: string): number | undefined {
  for (const pid of cgroupPids(join(HIERARCHIES[0] as string, cgroup, 'payload'))) {
    try {
      const nspid = /^NSpid:\s+(.*)$/m
        .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
        ?.trim()
        .split(/\s+/)
      if (nspid && nspid.length > 1 && nspid.at(-1) === '1') return pid
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

function runInside(leader: number, argv: string[], options: { timeoutMs?: number; input?: string } = {}): RunResult {
  const started = performance.now()
  const result = spawnSync('nsenter', ['-t', String(leader), '-a', 'env', '-i', `PATH=${CONTAINER_PATH}`, 'LANG=C.UTF-8', ...argv], {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    input: options.input,
  })
  const stdout = result.stdout ?? ''
  const stderr = result.stderr ?? ''
  return { code: result.status, stdout, stderr, out: `${stdout}${stderr}`, seconds: (performance.now() - started) / 1000 }
}

interface Parts {
  dir: string
  root: string
  cgroup: string
  child: ChildProcess | null
}

/** Kills everything in the container's cgroup and removes what was made for it. Synchronous. */
function removeParts(parts: Parts, errors: string[]): void {
  const unified = join(HIERARCHIES[1] as string, parts.cgroup)
  for (let round = 0; round < 100; round++) {
    const pids = HIERARCHIES.flatMap((h) => cgroupPids(join(h, parts.cgroup)))
    if (pids.length === 0) break
    if (existsSync(join(unified, 'cgroup.kill'))) writeFileSync(join(unified, 'cgroup.kill'), '1')
    for (const pid of pids) spawnSync('kill', ['-9', String(pid)])
    spawnSync('sleep', ['0.05'])
  }
  for (const hierarchy of HIERARCHIES) {
    try {
      removeCgroup(join(hierarchy, parts.cgroup))
    } catch (err) {
      errors.push(`cgroup ${hierarchy}/${parts.cgroup}: ${(err as Error).message}`)
    }
  }
  if (spawnSync('mountpoint', ['-q', parts.root]).status === 0) {
    const umount = spawnSync('umount', [parts.root], { encoding: 'utf8' })
    if (umount.status !== 0) spawnSync('umount', ['-l', parts.root])
  }
  rmSync(parts.dir, { recursive: true, force: true })
}

function createBridge(namespace: string, prefix: string): void {
  const exists = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
  if (new RegExp(`^${namespace}( |$)`, 'm').test(exists))
    throw new Error(`a network namespace ${namespace} exists already (a run that did not clean up? ip netns del ${namespace})`)
  must(['ip', 'netns', 'add', namespace], 'network namespace')
  const inNs = (args: string[]) => must(['ip', '-n', namespace, ...args], 'bridge')
  inNs(['link', 'set', 'lo', 'up'])
  inNs(['link', 'add', 'br0', 'type', 'bridge'])
  inNs(['addr', 'add', `${prefix}.1/24`, 'dev', 'br0'])
  inNs(['link', 'set', 'br0', 'up'])
}

/** Starts one container on its overlay, in its own cgroup; does not wait for the boot. */
function startContainer(image: string, name: string, cgroup: string, namespace: string | null): Parts {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`))
  const parts: Parts = { dir, root: join(dir, 'root'), cgroup, child: null }
  for (const sub of ['upper', 'work', 'root']) mkdirSync(join(dir, sub))
  must(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${image},upperdir=${dir}/upper,workdir=${dir}/work`, parts.root], 'overlay')
  writeFileSync(join(parts.root, 'etc/hostname'), `${name}\n`)
  for (const hierarchy of HIERARCHIES) mkdirSync(join(hierarchy, cgroup))
  const nspawn = [
    'systemd-nspawn',
    '--quiet',
    '--boot',
    '--register=no',
    '--keep-unit',
    `--machine=${name}`,
    // Its own machine-id: clones of one image must not share one.
    `--uuid=${randomBytes(16).toString('hex')}`,
    '--console=read-only',
    ...(namespace ? ['--network-bridge=br0'] : ['--private-network']),
    '-D',
    parts.root,
  ]
  // nsenter, not `ip netns exec`: that one also mounts a fresh /sys, without the cgroup hierarchies nspawn needs.
  const command = [...(namespace ? ['nsenter', `--net=/run/netns/${namespace}`] : []), ...nspawn]
  // The shell moves itself into the container's cgroup, then becomes nspawn.
  const enter = HIERARCHIES.map((h) => `echo $$ > ${join(h, cgroup, 'cgroup.procs')}`).join(' && ')
  parts.child = spawn('sh', ['-c', `${enter} && exec "$@"`, 'sh', ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
  return parts
}

/**
 * Boots `count` hosts from `image` and waits until systemd inside says the boot is over. Removed
 * at teardown (and on a signal or exit); a host can also be powered off on its own.
 */
export async function bootHosts(t: Teardowns, image: string, options: HostsOptions): Promise<BootedHosts> {
  const { tag, count } = options
  const namespace = options.network ? `${tag}-net` : null
  const all: Parts[] = []
  const removeAll = () => {
    const errors: string[] = []
    for (const parts of all.splice(0)) removeParts(parts, errors)
    if (namespace) spawnSync('ip', ['netns', 'del', namespace])
    if (errors.length > 0) process.stderr.write(`booted hosts: removal left: ${errors.join('; ')}\n`)
  }
  const unguard = removeOnExit(removeAll)
  t.teardown(() => {
    removeAll()
    unguard()
  })
  if (namespace && options.network) createBridge(namespace, options.network.prefix)
  const hosts: BootedHost[] = []
  for (let i = 0; i < count; i++) {
    const name = `${tag}-h${i + 1}`
    const parts = startContainer(image, name, `${tag}-h${i + 1}`, namespace)
    all.push(parts)
    hosts.push(await booted(parts, name, options.network ? `${options.network.prefix}.${11 + i}` : null, () => all.includes(parts)))
  }
  return { hosts, namespace, remove: removeAll }
}

/** Waits for the container's init, then for systemd's boot to end (right after boot systemctl may fail: polled). */
async function booted(parts: Parts, name: string, address: string | null, present: () => boolean): Promise<BootedHost> {
  const child = parts.child as ChildProcess
  let console = ''
  child.stdout?.on('data', (c: Buffer) => (console += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (console += c.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  // A container that dies while booting ends the wait at once, with what it printed.
  const orDied = <T>(waiting: Promise<T>): Promise<T> =>
    Promise.race([
      waiting,
      exited.then(() => {
        throw new Error(`systemd-nspawn for ${name} exited (${child.exitCode ?? child.signalCode}):\n${console}`)
      }),
    ])
  const leader = await orDied(waitFor(`${name}'s init`, () => findLeader(parts.cgroup), { timeoutMs: 30_000, intervalMs: 20 }))
  const state = await orDied(
    waitFor(
      `${name} to finish booting`,
      () => {
        const s = runInside(leader, ['systemctl', 'is-system-running']).stdout.trim()
        return s === 'running' || s === 'degraded' ? s : undefined
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ),
  )
  if (state === 'degraded') {
    const failed = runInside(leader, ['systemctl', '--failed', '--no-legend']).out
    throw new Error(`${name} booted degraded: ${failed}`)
  }
  if (address) {
    runInside(leader, ['ip', 'addr', 'add', `${address}/24`, 'dev', 'host0'])
    runInside(leader, ['ip', 'link', 'set', 'host0', 'up'])
  }
  return {
    name,
    root: parts.root,
    leader,
    address,
    run: (argv, options) => runInside(leader, argv, options),
    console: () => console,
    async poweroff(timeoutMs = 120_000) {
      const started = performance.now()
      // nspawn turns SIGTERM into an orderly shutdown of a booted container (SIGRTMIN+3 to its init).
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
      const seconds = (performance.now() - started) / 1000
      if (present()) {
        const errors: string[] = []
        removeParts(parts, errors)
        if (errors.length > 0) throw new Error(`removing ${name}: ${errors.join('; ')}`)
      }
      return seconds
    },
  }
}
