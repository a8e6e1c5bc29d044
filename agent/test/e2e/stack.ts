import { spawn } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js'
import { spawnAgent, type AgentProcess } from '../helpers/process.js'
import { freePort, requireBinary, type Teardowns } from '../helpers/system.js'
import { CATALINA_HOME, DEFAULT_JAVA_OPTS, Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'
import { writeWar } from '../helpers/war.js'
import { httpRequest } from '../helpers/http.js'

/**
 * The end-to-end stack on loopback: Debian's HAProxy in front of real Tomcat 10 instances, each
 * with its own agent (a separate process, as in production). Tomcats run as daemons started and
 * stopped by small scripts, the way deploy-war drives them; all are killed by PID at teardown.
 * Used by the end-to-end test and by `npm run demo`.
 */

export const SLOW_MS = 300
/** The HAProxy check timers of the stack, short so that a roll takes seconds. */
export const CHECK = { inter: 300, fastinter: 100, downinter: 300, rise: 2, fall: 2 }

export interface StackHost {
  name: string
  tomcat: Tomcat
  agent: AgentProcess
  tokenFile: string
  startScript: string
  stopScript: string
}

export interface BackendCounters {
  eresp: number
  wretr: number
  wredis: number
}

export interface Stack {
  dir: string
  hosts: StackHost[]
  haproxy: RunningHaproxy
  frontendUrl: string
  /** The version a host's Tomcat serves now, asked directly (not through HAProxy). */
  versionOf(host: StackHost): Promise<string>
  serverStatus(host: StackHost): Promise<string>
  backendCounters(): Promise<BackendCounters>
  writeInventory(file: string): string
}

/** The test app: a static health file for the agent's probe, a page and a slow JSP that say their version. */
export function writeAppWar(dir: string, version: string, options: { broken?: boolean } = {}): string {
  const directive = '<%@ page contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %>'
  const files: Record<string, string> = {
    'health.txt': 'UP\n',
    'index.jsp': `${directive}${version}\n`,
    'slow.jsp': `${directive}<% Thread.sleep(${SLOW_MS}); %>${version}\n`,
  }
  // A web.xml that does not parse: Tomcat starts, the app does not, its URLs answer 404.
  if (options.broken) files['WEB-INF/web.xml'] = '<web-app><servlet>\n'
  const source = writeWebapp(join(dir, `app-${version}${options.broken ? '-broken' : ''}`), files)
  return writeWar(source, join(dir, `app-${version}${options.broken ? '-broken' : ''}.war`))
}

export function versionOfBody(body: string): string | null {
  const match = /^(v\d+)\s*$/.exec(body)
  return match ? (match[1] as string) : null
}

function writeScript(path: string, body: string): string {
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
    ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; [ -s "$2" ] && kill -9 "$(cat "$2")" 2>/dev/null', 'tomcat-daemon-watchdog', String(process.pid), pidFile],
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

export async function startTomcatDaemon(host: Pick<StackHost, 'startScript' | 'tomcat'>): Promise<void> {
  await runScript(host.startScript)
}

export async function stopTomcatDaemon(host: Pick<StackHost, 'stopScript'>): Promise<void> {
  await runScript(host.stopScript)
}

export async function startStack(t: Teardowns, dir: string, options: { hosts?: number; war: string }): Promise<Stack> {
  requireBinary('haproxy')
  const count = options.hosts ?? 3
  const hosts: StackHost[] = []
  for (let i = 1; i <= count; i++) {
    const name = `t${i}`
    const tomcat = await Tomcat.create(t, { name })
    const scripts = tomcatScripts(tomcat)
    guardDaemon(t, tomcat.pidFile)
    tomcat.deployWar('/app', options.war)
    await runScript(scripts.start)
    const agentDir = join(dir, `agent-${name}`)
    const agent = await spawnAgent(t, [
      '--data-dir', agentDir,
      '--tomcat-url', `http://127.0.0.1:${tomcat.httpPort}/app/health.txt`,
      '--tomcat-interval-ms', '200',
      '--tomcat-timeout-ms', '1000',
      '--tomcat-fall', '2',
      '--tomcat-rise', '2',
      '--warmup-urls', '/app/,/app/slow.jsp',
      '--warmup-requests', '2',
      // Checks come every 300 ms: a load balancer silent for 1.5 s is gone.
      '--lb-stale-ms', '1500',
    ])
    hosts.push({ name, tomcat, agent, tokenFile: join(agentDir, 'admin-token'), startScript: scripts.start, stopScript: scripts.stop })
  }

  const frontendPort = await freePort()
  const servers = hosts
    .map((h) => `    server ${h.name} 127.0.0.1:${h.tomcat.httpPort} check port ${h.agent.healthPort}`)
    .join('\n')
  // Nothing here hides a failure: no retries, no redispatch, no L7 retry-on. Server connections
  // are not reused, so that a reused idle connection closing cannot fail a request either.
  const haproxy = await startHaproxy(
    t,
    dir,
    `defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # The check read timeout; without it, it is inter (100-300 ms here), which a busy machine misses.
    timeout check 2s
    timeout http-keep-alive 30s
    retries 0
    option http-server-close

frontend fe
    bind 127.0.0.1:${frontendPort}
    default_backend be

backend be
    balance roundrobin
    option httpchk GET /health
    http-check disable-on-404
    http-check send-state
    default-server inter ${CHECK.inter} fastinter ${CHECK.fastinter} downinter ${CHECK.downinter} rise ${CHECK.rise} fall ${CHECK.fall}
${servers}`,
    'lb1',
    ['node lb1'],
  )
  const serverStatus = async (host: StackHost) => (await haproxy.serverStat('be', host.name)).status ?? ''
  await waitFor('HAProxy to see every Tomcat UP', async () => (await Promise.all(hosts.map(serverStatus))).every((s) => s === 'UP'), { timeoutMs: 90_000, intervalMs: 100 })

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
    async backendCounters() {
      const row = await haproxy.serverStat('be', 'BACKEND')
      return { eresp: Number(row.eresp), wretr: Number(row.wretr), wredis: Number(row.wredis) }
    },
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
