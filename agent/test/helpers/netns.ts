import { spawnSync } from 'node:child_process'
import { requireBinary } from './system.js'

/**
 * Hosts for tests as Linux network namespaces: one bridge in the root namespace with the
 * subnet's first address, and per host a namespace joined to it by a veth pair (`eth0` inside).
 * Creation refuses a subnet or a name already in use; removal is synchronous, so that it can run
 * from a signal handler or an exit hook, and it kills every process left in the namespaces (all
 * were started there by the test: the namespaces are the test's own).
 */

export interface NetnsHost {
  name: string
  /** The namespace's name (`ip netns exec NAMESPACE ...`). */
  namespace: string
  address: string
}

export interface NetnsNetwork {
  bridge: string
  /** The root namespace's address on the bridge. */
  gateway: string
  prefix: string
  hosts: NetnsHost[]
  /** Kills every process in the namespaces, removes them and the bridge. Safe to call twice. */
  remove(): string[]
}

function ip(args: string[]): { ok: boolean; out: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8' })
  return { ok: result.status === 0, out: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() }
}

function mustIp(args: string[]): string {
  const result = ip(args)
  if (!result.ok) throw new Error(`ip ${args.join(' ')} failed: ${result.out}`)
  return result.out
}

/** PIDs of the processes in a namespace, as `ip netns pids` lists them. */
export function namespacePids(namespace: string): number[] {
  const result = ip(['netns', 'pids', namespace])
  return result.ok
    ? result.out
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .filter((p) => p > 0)
    : []
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    const stat = spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout ?? ''
    // A zombie has exited and closed everything; its parent reaps it.
    return !/^\d+ \(.*\) Z /.test(stat)
  } catch {
    return false
  }
}

function killNamespace(namespace: string): void {
  for (let round = 0; round < 50; round++) {
    const pids = namespacePids(namespace).filter(alive)
    if (pids.length === 0) return
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    spawnSync('sleep', ['0.1'])
  }
}

/** Why the subnet or the names cannot be used, or null when they are free. */
function conflicts(prefix: string, names: string[]): string | null {
  const inUse = [ip(['-o', '-4', 'addr', 'show']).out, ip(['-4', 'route', 'show', 'table', 'all']).out]
    .join('\n')
    .split('\n')
    .filter((line) => line.includes(` ${prefix}.`) || line.startsWith(`${prefix}.`))
  if (inUse.length > 0) return `the subnet ${prefix}.0/24 is already in use on this machine:\n${inUse.join('\n')}`
  const namespaces = ip(['netns', 'list']).out
  const links = ip(['-o', 'link', 'show']).out
  for (const name of names) {
    if (new RegExp(`^${name}( |$)`, 'm').test(namespaces))
      return `a network namespace ${name} exists already (a run that did not clean up? remove it with: ip netns del ${name})`
    if (links.includes(`: ${name}:`) || links.includes(`: ${name}@`))
      return `a network link ${name} exists already (remove it with: ip link del ${name})`
  }
  return null
}

/**
 * Makes `count` hosts on `prefix`.0/24 (a documentation or private /24 such as 198.51.100):
 * the bridge gets .1, host i gets .(10 + i). Throws, saying why, if it cannot.
 */
export function createNetwork(options: { tag: string; prefix: string; count: number }): NetnsNetwork {
  requireBinary('ip')
  const { tag, prefix, count } = options
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root: run the fleet test as root (CI does)')
  const bridge = `${tag}0`
  const hosts: NetnsHost[] = Array.from({ length: count }, (_, i) => ({
    name: `h${i + 1}`,
    namespace: `${tag}-h${i + 1}`,
    address: `${prefix}.${11 + i}`,
  }))
  const problem = conflicts(prefix, [bridge, ...hosts.map((h) => h.namespace)])
  if (problem) throw new Error(`cannot make the test hosts: ${problem}`)

  const made = { bridge: false, namespaces: [] as string[] }
  const remove = (): string[] => {
    const errors: string[] = []
    for (const namespace of made.namespaces) {
      killNamespace(namespace)
      const result = ip(['netns', 'del', namespace])
      if (!result.ok) errors.push(`ip netns del ${namespace}: ${result.out}`)
    }
    made.namespaces = []
    if (made.bridge) {
      const result = ip(['link', 'del', bridge])
      if (!result.ok) errors.push(`ip link del ${bridge}: ${result.out}`)
      made.bridge = false
    }
    return errors
  }
  try {
    mustIp(['link', 'add', bridge, 'type', 'bridge'])
    made.bridge = true
    mustIp(['addr', 'add', `${prefix}.1/24`, 'dev', bridge])
    mustIp(['link', 'set', bridge, 'up'])
    for (const host of hosts) {
      const add = ip(['netns', 'add', host.namespace])
      if (!add.ok)
        throw new Error(
          `cannot make a network namespace (ip netns add ${host.namespace}): ${add.out}; the fleet test needs root and a kernel that allows network namespaces (not available in some containers)`,
        )
      made.namespaces.push(host.namespace)
      mustIp(['link', 'add', host.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace])
      mustIp(['link', 'set', host.namespace, 'master', bridge, 'up'])
      mustIp(['-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0'])
      mustIp(['-n', host.namespace, 'link', 'set', 'eth0', 'up'])
      mustIp(['-n', host.namespace, 'link', 'set', 'lo', 'up'])
    }
  } catch (err) {
    remove()
    throw err
  }
  return { bridge, gateway: `${prefix}.1`, prefix, hosts, remove }
}
