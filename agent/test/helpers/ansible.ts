import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { requireBinary } from './system.js'

/** Debian's ansible-playbook on the project's ansible/ folder, with its state kept in a temp folder. */

export const ANSIBLE_DIR = join(PACKAGE_ROOT, 'ansible')

export interface PlaybookRun {
  code: number | null
  seconds: number
  output: string
  /** The PLAY RECAP's host lines, e.g. "h1 : ok=9 changed=0 unreachable=0 failed=0 ...". */
  recap: string[]
  /** Per host, the recap's counters. */
  counts: Record<string, Record<string, number>>
}

/** Where ansibleEnv(dir)'s ssh keeps its master connections, one per host address. */
export function controlPath(dir: string): string {
  return join(dir, 'cp', '%h')
}

/** Ends the ssh master connections of the playbooks run with ansibleEnv(dir). */
export function closeSshMasters(dir: string, addresses: string[]): void {
  for (const address of addresses) {
    const socket = controlPath(dir).replace('%h', address)
    if (existsSync(socket)) spawnSync('ssh', ['-o', `ControlPath=${socket}`, '-O', 'exit', address], { stdio: 'ignore', timeout: 10_000 })
  }
}

/** What any ansible-playbook run here needs: a clean environment, its own home and temp in `dir`, no colours. */
export function ansibleBaseEnv(dir: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    // ansible-core refuses to run without a UTF-8 locale.
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PYTHONUNBUFFERED: '1',
    ANSIBLE_HOME: join(dir, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
    ANSIBLE_NOCOLOR: '1',
  }
}

export function ansibleEnv(dir: string): NodeJS.ProcessEnv {
  mkdirSync(join(dir, 'ansible-tmp'), { recursive: true })
  mkdirSync(join(dir, 'cp'), { recursive: true, mode: 0o700 })
  return {
    ...ansibleBaseEnv(dir),
    ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_PIPELINING: '1',
    // One ssh connection per host for a whole playbook; closeSshMasters() ends them.
    ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=${controlPath(dir)}`,
  }
}

export function parseRecap(output: string): Pick<PlaybookRun, 'recap' | 'counts'> {
  const at = output.lastIndexOf('PLAY RECAP')
  const recap =
    at < 0
      ? []
      : output
          .slice(at)
          .split('\n')
          .slice(1)
          .filter((l) => / : ok=\d+/.test(l))
          .map((l) => l.trim().replace(/\s+/g, ' '))
  const counts: PlaybookRun['counts'] = {}
  for (const line of recap) {
    const [host, rest] = line.split(' : ') as [string, string]
    counts[host] = Object.fromEntries([...rest.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1] as string, Number(m[2])]))
  }
  return { recap, counts }
}

/** Runs a playbook of ansible/ in its own process group, killed whole after `timeoutMs`. */
export function runPlaybook(dir: string, playbook: string, args: string[], timeoutMs = 600_000): Promise<PlaybookRun> {
  requireBinary('ansible-playbook')
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn('ansible-playbook', [join(ANSIBLE_DIR, playbook), ...args], {
      env: ansibleEnv(dir),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(killGroup, timeoutMs)
    process.once('exit', killGroup)
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      process.off('exit', killGroup)
      resolve({ code, seconds: (Date.now() - started) / 1000, output, ...parseRecap(output) })
    })
  })
}
