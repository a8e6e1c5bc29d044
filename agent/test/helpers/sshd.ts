import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { requireBinary } from './system.js'
import { waitFor } from './wait.js'

/**
 * Debian's OpenSSH server for a test host in a network namespace: its own throw-away host key,
 * its own config, root login with a throw-away client key only, in the foreground (`-D -e`) under
 * `ip netns exec`. The client side (`ClientKeys`) is what ssh, scp and Ansible are given.
 */

export interface ClientKeys {
  dir: string
  privateKey: string
  knownHosts: string
  /** Options for ssh and scp that use only these keys and this known_hosts file. */
  sshOptions: string[]
}

function keygen(file: string, comment: string): void {
  const result = spawnSync(requireBinary('ssh-keygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`ssh-keygen failed: ${result.stderr}`)
}

export function makeClientKeys(dir: string): ClientKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const privateKey = join(dir, 'id_ed25519')
  keygen(privateKey, 'fleet-test-client')
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(knownHosts, '')
  return {
    dir,
    privateKey,
    knownHosts,
    sshOptions: [
      `-oIdentityFile=${privateKey}`,
      '-oIdentitiesOnly=yes',
      `-oUserKnownHostsFile=${knownHosts}`,
      '-oGlobalKnownHostsFile=/dev/null',
      '-oStrictHostKeyChecking=yes',
      '-oBatchMode=yes',
      '-oConnectTimeout=20',
    ],
  }
}

export interface RunningSshd {
  pid: number
  address: string
  process: ChildProcess
  output(): string
}

/** Debian's sshd refuses to start without its privilege separation folder; made (and removed) if missing. */
export function ensurePrivsepDir(): () => void {
  if (existsSync('/run/sshd')) return () => undefined
  mkdirSync('/run/sshd', { mode: 0o755 })
  return () => rmSync('/run/sshd', { recursive: true, force: true })
}

/**
 * Options beyond the defaults: `rootShell`, root's login shell for this sshd's sessions (e.g.
 * /bin/sh, dash on Debian), by a private mount namespace where /etc/passwd is a copy that says so;
 * `prefix`, a command sshd runs under (e.g. prlimit), inherited by every session.
 */
export interface SshdExtras {
  rootShell?: string
  prefix?: string[]
}

/** The command that runs `command` with root's login shell read as `shell` (in its own mount namespace). */
function withRootShell(dir: string, shell: string, command: string[]): string[] {
  const passwd = join(dir, 'passwd')
  writeFileSync(passwd, readFileSync('/etc/passwd', 'utf8').replace(/^(root:[^\n]*:)[^:\n]*$/m, `$1${shell}`))
  // A constant script; the paths are its arguments. The namespace and its mount end with sshd.
  const script = 'mount --bind "$0" /etc/passwd && exec "$@"'
  return [requireBinary('unshare'), '--mount', '--propagation', 'slave', '--', 'sh', '-c', script, passwd, ...command]
}

export async function startSshd(
  options: { namespace: string; address: string; dir: string; client: ClientKeys } & SshdExtras,
): Promise<RunningSshd> {
  const sshd = requireBinary('sshd')
  const { namespace, address, dir, client } = options
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const hostKey = join(dir, 'ssh_host_ed25519_key')
  keygen(hostKey, `fleet-test-${namespace}`)
  const authorizedKeys = join(dir, 'authorized_keys')
  writeFileSync(authorizedKeys, readFileSync(`${client.privateKey}.pub`), { mode: 0o600 })
  const config = join(dir, 'sshd_config')
  writeFileSync(
    config,
    [
      `ListenAddress ${address}:22`,
      `HostKey ${hostKey}`,
      'PidFile none',
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      // The key files live in a temp folder whose parents are not root-only.
      'StrictModes no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      // Rolls open many short sessions, some at once (Ansible's forks, scp then ssh).
      'MaxStartups 50',
      'MaxSessions 50',
      '',
    ].join('\n'),
  )
  const check = spawnSync('ip', ['netns', 'exec', namespace, sshd, '-t', '-f', config], { encoding: 'utf8' })
  if (check.status !== 0) throw new Error(`sshd -t rejected ${config}: ${check.stderr}`)
  writeFileSync(client.knownHosts, `${address} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`, { flag: 'a' })

  let command = [...(options.prefix ?? []), sshd, '-D', '-e', '-f', config]
  if (options.rootShell) command = withRootShell(dir, options.rootShell, command)
  const child = spawn('ip', ['netns', 'exec', namespace, ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  let exited = false
  child.on('exit', () => (exited = true))
  await waitFor(
    `sshd on ${address}:22`,
    () => {
      if (exited) throw new Error(`sshd exited at start:\n${output}`)
      return new Promise<boolean>((resolve) => {
        const socket = connect({ host: address, port: 22 }, () => {
          socket.destroy()
          resolve(true)
        })
        socket.on('error', () => resolve(false))
      })
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  )
  return { pid: child.pid as number, address, process: child, output: () => output }
}
