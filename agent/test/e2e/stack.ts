import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { spawnAgent, type AgentProcess } from '../helpers/process.js'
import { freePort, requireBinary, type Teardowns } from '../helpers/system.js'
import { CATALINA_HOME, DEFAULT_JAVA_OPTS, Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'
import { RECOMMENDED_BACKEND } from '../helpers/snippet.js'
import { writeWar } from '../helpers/war.js'
import { httpRequest } from '../helpers/http.js'
import { LoadGenerator } from '../helpers/load.js'
import { startReloadableHaproxy, type BackendCounters, type ReloadableHaproxy } from './reloadable-haproxy.js'

export type { BackendCounters } from './reloadable-haproxy.js'

/**
 * The end-to-end stack on loopback: Debian's HAProxy in front of real Tomcat 10 instances, each
 * with its own agent (a separate process, as in production). Tomcats run as daemons started and
 * stopped by small scripts, the way deploy-war drives them; all are killed by PID at teardown.
 * The defaults are the product: each agent gets only its URLs (every timer is its default), and
 * HAProxy's backend is haproxy-snippets/httpchk-backend.cfg as shipped, with the stack's addresses.
 * Used by the end-to-end test and by `npm run demo`.
 */

export const SLOW_MS = 300
export { RECOMMENDED_BACKEND }
const SNIPPET_STATE_FILE = '/var/lib/haproxy/server-state'

function ms(value: string): number {
  const match = /^(\d+)(ms|s)?$/.exec(value)
  if (!match) throw new Error(`unexpected time in the recommended backend: ${value}`)
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1)
}

/** The recommended backend's check timers (from its default-server line), for the bench and the figures. */
function recommendedTimers(): { inter: number; fastinter: number; downinter: number; rise: number; fall: number } {
  const line = /^\s*default-server\s+(.*)$/m.exec(readFileSync(RECOMMENDED_BACKEND, 'utf8'))?.[1] ?? ''
  const word = (name: string) => {
    const value = new RegExp(`(?:^|\\s)${name}\\s+(\\S+)`).exec(line)?.[1]
    if (value === undefined) throw new Error(`${RECOMMENDED_BACKEND}: no ${name} on its default-server line`)
    return value
  }
  return {
    inter: ms(word('inter')),
    fastinter: ms(word('fastinter')),
    downinter: ms(word('downinter')),
    rise: Number(word('rise')),
    fall: Number(word('fall')),
  }
}

export const CHECK = recommendedTimers()

/**
 * haproxy-snippets/httpchk-backend.cfg for this stack: its global and backend lines as they are,
 * with the backend named `be`, the example servers replaced by the stack's (each checked on its
 * own agent's port) and the server state kept in `stateFile`.
 */
export function recommendedBackend(servers: Array<{ name: string; port: number; checkPort: number }>, stateFile: string): string {
  const lines = readFileSync(RECOMMENDED_BACKEND, 'utf8')
    .split('\n')
    .filter((l) => !/^\s*server\s/.test(l))
    .map((l) =>
      l
        .replace(SNIPPET_STATE_FILE, stateFile)
        .replace(/^backend tomcats$/, 'backend be')
        .replace(/ check port \d+ /, ' check '),
    )
  const own = servers.map((s) => `    server ${s.name} 127.0.0.1:${s.port} port ${s.checkPort} cookie ${s.name}`)
  return [...lines, ...own].join('\n')
}

export interface StackHost {
  name: string
  tomcat: Tomcat
  agent: AgentProcess
  tokenFile: string
  /** The agent's state file (its default place in its data dir). */
  stateFile: string
  startScript: string
  stopScript: string
  /** With `manager: true`: the manager's URL and a file with USER:PASSWORD (manager-script, manager-status). */
  manager: { url: string; credentialsFile: string } | null
}

export interface Stack {
  dir: string
  hosts: StackHost[]
  haproxy: ReloadableHaproxy
  frontendUrl: string
  /** The version a host's Tomcat serves now, asked directly (not through HAProxy). */
  versionOf(host: StackHost): Promise<string>
  serverStatus(host: StackHost): Promise<string>
  backendCounters(): Promise<BackendCounters>
  writeInventory(file: string): string
}

/**
 * The test app: a static health file for the agent's probe, a page and a slow JSP that say their
 * version. A bad release for the canary gate: `failEvery` N makes every Nth page answer 500;
 * `slowFactor` makes the slow JSP that many times slower.
 */
export function writeAppWar(
  dir: string,
  version: string,
  options: { broken?: boolean; failEvery?: number; slowFactor?: number } = {},
): string {
  const directive = '<%@ page contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %>'
  const failing = options.failEvery
    ? `<%@ page import="java.util.concurrent.atomic.AtomicLong" %><%! static final AtomicLong served = new AtomicLong(); %><% if (served.incrementAndGet() % ${options.failEvery} == 0) response.setStatus(500); %>`
    : ''
  const files: Record<string, string> = {
    'health.txt': 'UP\n',
    'index.jsp': `${directive}${failing}${version}\n`,
    'slow.jsp': `${directive}<% Thread.sleep(${SLOW_MS * (options.slowFactor ?? 1)}); %>${version}\n`,
    // Counts the requests of a session: a sticky user whose count starts over lost the session.
    'session.jsp': `${directive}<% Integer n = (Integer) session.getAttribute("n"); n = n == null ? 1 : n + 1; session.setAttribute("n", n); %>${version} count=<%= n %>\n`,
  }
  // A web.xml that does not parse: Tomcat starts, the app does not, its URLs answer 404.
  if (options.broken) files['WEB-INF/web.xml'] = '<web-app><servlet>\n'
  const name = `app-${version}${options.broken ? '-broken' : ''}${options.failEvery ? `-fail${options.failEvery}` : ''}${options.slowFactor ? `-slow${options.slowFactor}` : ''}`
  const source = writeWebapp(join(dir, name), files)
  return writeWar(source, join(dir, `${name}.war`))
}

/** The end-to-end load through the stack's HAProxy: 8 clients, every fifth request the slow page, bounded. */
export function stackLoad(stack: Pick<Stack, 'frontendUrl'>, limits = { maxRequests: 200_000, maxSeconds: 400 }): LoadGenerator {
  return new LoadGenerator({
    url: stack.frontendUrl,
    clients: 8,
    slowEvery: 5,
    slowPath: '/app/slow.jsp',
    ...limits,
    versionOf: versionOfBody,
  })
}

export function versionOfBody(body: string): string | null {
  const match = /^(v\d+)\s*$/.exec(body)
  return match ? (match[1] as string) : null
}

/** An executable bash script with `set -euo pipefail` (the stacks' Tomcat start and stop scripts). */
export function writeScript(path: string, body: string): string {
  writeFileSync(path, `#!/usr/bin/env bash\nset -euo pipefail\n${body}`)
  chmodSync(path, 0o755)
  return path
}

/** Start and stop scripts for one Tomcat instance, as an operator's deploy would have them. */
function tomcatScripts(tomcat: Tomcat): { start: string; stop: string } {
  const env = [
    `export CATALINA_HOME=${CATALINA_HOME} CATALINA_BASE=${tomcat.base} CATALINA_PID=${tomcat.pidFile}`,
    `export CATALINA_TMPDIR=${tomcat.base}/temp CATALINA_OUT=${tomcat.outLog} JAVA_OPTS='${DEFAULT_JAVA_OPTS}'`,
  ].join('\n')
  const start = writeScript(join(tomcat.base, 'start.sh'), `${env}\nexec ${CATALINA_HOME}/bin/catalina.sh start >/dev/null\n`)
  // Tomcat's shutdown port stops it in about 0.1 s; catalina.sh stop would start a JVM to send the word.
  // The JVM (orphaned by catalina.sh start) then waits as a zombie until PID 1 reaps it, which
  // some init processes do only every second or two: a zombie has exited and closed its ports.
  const stop = writeScript(
    join(tomcat.base, 'stop.sh'),
    `pidfile=${tomcat.pidFile}
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]; }
[ -s "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if gone "$pid"; then rm -f "$pidfile"; exit 0; fi
{ exec 3<>/dev/tcp/127.0.0.1/${tomcat.shutdownPort} && printf SHUTDOWN >&3 && exec 3>&-; } 2>/dev/null || true
for _ in $(seq 1 750); do
  if gone "$pid"; then rm -f "$pidfile"; exit 0; fi
  sleep 0.02
done
echo "tomcat $pid did not stop within 15 s: killing it" >&2
kill -9 "$pid"; rm -f "$pidfile"
`,
  )
  return { start, stop }
}

function runScript(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, [], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (c: Buffer) => (err += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path} exited ${code}: ${err}`))))
  })
}

/**
 * If this process dies without its teardown (tap's timeout kills it), whatever Tomcat the pid
 * file names at that moment is killed too: deploy-war restarts Tomcat, so the PID changes.
 */
function guardDaemon(t: Teardowns, pidFile: string): void {
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; [ -s "$2" ] && kill -9 "$(cat "$2")" 2>/dev/null',
      'tomcat-daemon-watchdog',
      String(process.pid),
      pidFile,
    ],
    { detached: true, stdio: 'ignore' },
  )
  watchdog.unref()
  t.teardown(() => {
    try {
      if (watchdog.pid) process.kill(-watchdog.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  })
}

const MANAGER_APP = '/usr/share/tomcat10-admin/manager'
const MANAGER_USER = { name: 'agent', password: 'stack-manager-secret', roles: ['manager-script', 'manager-status'] }

/** Deploys Debian's manager application (tomcat10-admin) and writes its user's credentials file. */
function withManager(tomcat: Tomcat, credentialsFile: string): { url: string; credentialsFile: string } {
  if (!existsSync(MANAGER_APP)) throw new Error(`${MANAGER_APP} is missing: install tomcat10-admin (sudo scripts/install-system-deps.sh)`)
  tomcat.deployDir('/manager', MANAGER_APP)
  writeFileSync(credentialsFile, `${MANAGER_USER.name}:${MANAGER_USER.password}\n`, { mode: 0o600 })
  return { url: tomcat.url('/manager'), credentialsFile }
}

export async function startTomcatDaemon(host: Pick<StackHost, 'startScript' | 'tomcat'>): Promise<void> {
  await runScript(host.startScript)
}

export async function stopTomcatDaemon(host: Pick<StackHost, 'stopScript'>): Promise<void> {
  await runScript(host.stopScript)
}

export async function startStack(
  t: Teardowns,
  dir: string,
  options: {
    hosts?: number
    war: string
    warmup?: boolean
    agentArgs?: (tomcat: Tomcat) => string[]
    /** Tomcat's manager application on each host, read by its agent (sessions, versions) and used by deploy-war --parallel. */
    manager?: boolean
  },
): Promise<Stack> {
  requireBinary('haproxy')
  const count = options.hosts ?? 3
  const hosts: StackHost[] = []
  for (let i = 1; i <= count; i++) {
    const name = `t${i}`
    const tomcat = await Tomcat.create(t, options.manager ? { name, users: [MANAGER_USER] } : { name })
    const scripts = tomcatScripts(tomcat)
    guardDaemon(t, tomcat.pidFile)
    tomcat.deployWar('/app', options.war)
    const manager = options.manager ? withManager(tomcat, join(dir, `manager-${name}`)) : null
    await runScript(scripts.start)
    const agentDir = join(dir, `agent-${name}`)
    // Only where things are: every probe, warm-up and load balancer timer is the default.
    const agent = await spawnAgent(t, [
      '--data-dir',
      agentDir,
      '--tomcat-url',
      `http://127.0.0.1:${tomcat.httpPort}/app/health.txt`,
      // The bench's socket part compares a roll without warm-up on either side: warmup false.
      ...(options.warmup === false ? [] : ['--warmup-urls', '/app/,/app/slow.jsp']),
      ...(manager ? ['--tomcat-manager-url', manager.url, '--tomcat-manager-credentials-file', manager.credentialsFile] : []),
      ...(options.agentArgs?.(tomcat) ?? []),
    ])
    hosts.push({
      name,
      tomcat,
      agent,
      tokenFile: join(agentDir, 'admin-token'),
      stateFile: join(agentDir, 'state'),
      startScript: scripts.start,
      stopScript: scripts.stop,
      manager,
    })
  }

  const stateFile = join(dir, 'haproxy-server-state')
  // The first start has no saved state yet: an empty one of the version `show servers state` writes.
  writeFileSync(stateFile, '1\n')
  const backend = recommendedBackend(
    hosts.map((h) => ({ name: h.name, port: h.tomcat.httpPort, checkPort: h.agent.healthPort })),
    stateFile,
  )
  // The backend retries a failed connection elsewhere (as recommended): the proof reads wretr,
  // wredis, econ and eresp, so that a retry that hid a failure still fails it. Server connections
  // are not reused, so that a reused idle connection closing cannot fail a request either.
  const startHaproxy = (frontendPort: number) =>
    startReloadableHaproxy(t, dir, {
      stateFile,
      globalLines: ['node lb1'],
      config: `defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    option http-server-close

frontend fe
    bind 127.0.0.1:${frontendPort}
    # A reload (case g) closes the old process's idle keep-alive connections: a client sending on one
    # at that moment gets a reset. With this, the old process answers that request, then closes.
    option idle-close-on-response
    default_backend be

${backend}`,
    })
  // freePort() gives a port that was free a moment ago: another test may take it before HAProxy binds it.
  let frontendPort = await freePort()
  let haproxy: ReloadableHaproxy
  for (let attempt = 1; ; attempt++) {
    try {
      haproxy = await startHaproxy(frontendPort)
      break
    } catch (err) {
      if (attempt === 3 || !/Address already in use/.test((err as Error).message)) throw err
      frontendPort = await freePort()
    }
  }
  const serverStatus = async (host: StackHost) => (await haproxy.serverStat('be', host.name)).status ?? ''
  // What HAProxy last showed of each server and its last check, for the message if they never come UP.
  let seen = ''
  await waitFor(
    'HAProxy to see every Tomcat UP',
    async () => {
      const rows = await Promise.all(hosts.map((h) => haproxy.serverStat('be', h.name)))
      seen = rows.map((r, i) => `${hosts[i]?.name} ${r.status} (last check ${r.check_status} ${r.check_code}: ${r.last_chk})`).join('; ')
      return rows.every((r) => r.status === 'UP')
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; HAProxy showed ${seen}`)
  })

  return {
    dir,
    hosts,
    haproxy,
    frontendUrl: `http://127.0.0.1:${frontendPort}/app/`,
    async versionOf(host) {
      const res = await httpRequest(`http://127.0.0.1:${host.tomcat.httpPort}/app/`)
      return res.status === 200 ? (versionOfBody(res.body) ?? `unknown(${res.body.trim()})`) : `HTTP ${res.status}`
    },
    serverStatus,
    backendCounters: () => haproxy.counters('be'),
    writeInventory(file) {
      const lines = hosts.map((h) =>
        [
          h.name,
          `catalina-base=${h.tomcat.base}`,
          'context=app',
          `agent=${h.agent.adminUrl}`,
          `token-file=${h.tokenFile}`,
          `start-cmd=${h.startScript}`,
          `stop-cmd=${h.stopScript}`,
        ].join(' '),
      )
      writeFileSync(file, `# the end-to-end stack: ${hosts.length} Tomcats on loopback\n${lines.join('\n')}\n`)
      return file
    },
  }
}

export interface DeployRun {
  code: number | null
  output: string
  seconds: number
}

/** Runs scripts/rolling-deploy; each output line also goes to `onLine` as it comes. */
export function rollingDeploy(inventory: string, war: string, args: string[], onLine?: (line: string) => void): Promise<DeployRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(PACKAGE_ROOT, 'scripts/rolling-deploy'), '--inventory', inventory, '--war', war, '--', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    })
    let output = ''
    let partial = ''
    const take = (chunk: Buffer) => {
      output += chunk.toString()
      partial += chunk.toString()
      const lines = partial.split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) onLine?.(line)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output, seconds: (Date.now() - started) / 1000 }))
  })
}
