import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requireBinary, type Teardowns } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

export interface Docker {
  /** Runs the docker CLI against this daemon; resolves with its exit code and output. */
  run(args: string[], options?: { timeoutMs?: number }): { code: number | null; out: string; stdout: string }
}

/**
 * A Docker daemon of its own (Debian's docker.io) in a temp dir: its own socket, data and exec
 * roots, no iptables and no bridge (containers use the host's network, reached on loopback).
 * Stopped by PID and removed at teardown, with everything it made.
 */
export async function startDockerd(t: Teardowns): Promise<Docker> {
  const dockerd = requireBinary('dockerd')
  const cli = requireBinary('docker')
  if (process.getuid?.() !== 0) throw new Error('the Docker test starts a daemon: run it as root (CI does)')
  // Its own temp dir, removed by the same teardown once the daemon is gone and its mounts are undone.
  const dir = mkdtempSync(join(tmpdir(), 'tha-dockerd-'))
  const socket = join(dir, 'docker.sock')
  const child = spawn(
    dockerd,
    [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '-H',
      `unix://${socket}`,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      '--storage-driver=vfs',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let log = ''
  child.stdout.on('data', (c: Buffer) => (log += c.toString()))
  child.stderr.on('data', (c: Buffer) => (log += c.toString()))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      await exited
      clearTimeout(timer)
    }
    // vfs layers are plain folders, but a container's shm or netns mount may outlive a killed daemon.
    for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n').reverse()) {
      const mountPoint = line.split(' ')[1]
      if (mountPoint?.startsWith(dir)) spawnSync('umount', ['-l', mountPoint])
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const docker: Docker = {
    run(args, { timeoutMs = 300_000 } = {}) {
      const result = spawnSync(cli, ['-H', `unix://${socket}`, ...args], {
        encoding: 'utf8',
        timeout: timeoutMs,
        env: { PATH: process.env.PATH ?? '', DOCKER_BUILDKIT: '0', DOCKER_CONFIG: join(dir, 'config') },
      })
      return { code: result.status, out: `${result.stdout}${result.stderr}`, stdout: result.stdout }
    },
  }
  await waitFor(
    'dockerd to answer',
    () => {
      if (child.exitCode !== null) throw new Error(`dockerd exited with ${child.exitCode}:\n${log}`)
      return existsSync(socket) && docker.run(['version'], { timeoutMs: 10_000 }).code === 0
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  )
  return docker
}
