import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { httpRequest } from './http.js'
import { freePort, type Teardowns } from './system.js'
import { waitFor } from './wait.js'

/**
 * A real Debian Tomcat 10 for tests: its own CATALINA_BASE in a temp folder, loopback ports, a
 * shutdown port, autoDeploy off, an unbuffered access log. Started with `catalina.sh run` (which
 * execs the JVM, so the child's PID is Tomcat's) and always killed by PID at teardown.
 */

export const CATALINA_HOME = '/usr/share/tomcat10'
const CATALINA_SH = join(CATALINA_HOME, 'bin/catalina.sh')
const INSTALL_HINT = "run `sudo scripts/install-system-deps.sh` (installs Debian's tomcat10 and a Java runtime)"
export const DEFAULT_JAVA_OPTS = '-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true'
/** The access log shows each request's User-Agent, so a test can tell the agent's probes and warm-up apart. */
export const ACCESS_LOG_PATTERN = '%h %t &quot;%r&quot; %s %b %D &quot;%{User-Agent}i&quot;'

/** Throws (so the test fails, never skips) when Tomcat 10 or Java is missing. */
export function requireTomcat(home = CATALINA_HOME): void {
  const catalinaSh = join(home, 'bin/catalina.sh')
  if (!existsSync(catalinaSh) || !existsSync(join(home, 'etc/server.xml'))) {
    throw new Error(`Tomcat 10 is not installed (${catalinaSh} is missing): ${INSTALL_HINT}`)
  }
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' })
  if (java.error || java.status !== 0)
    throw new Error(`no working java on the PATH (${java.error?.message ?? `exit ${java.status}`}): ${INSTALL_HINT}`)
}

/** Writes a webapp folder from a map of relative paths to contents; returns the folder. */
export function writeWebapp(dir: string, files: Record<string, string>): string {
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, content)
  }
  return dir
}

/** `/app` -> `app`, `/` -> `ROOT`, `/a/b` -> `a#b`: Tomcat's names for a context path. */
export function contextFolderName(contextPath: string): string {
  const trimmed = contextPath.replace(/^\/+|\/+$/g, '')
  return trimmed === '' ? 'ROOT' : trimmed.replace(/\//g, '#')
}

export interface TomcatUser {
  name: string
  password: string
  roles: string[]
}

export interface TomcatOptions {
  /** Shows in temp folder names and error messages. */
  name?: string
  javaOpts?: string
  httpPort?: number
  shutdownPort?: number
  /** Users for tomcat-users.xml (the manager application needs one). */
  users?: TomcatUser[]
}

const running = new Set<ChildProcess>()
let exitHookInstalled = false

/** If the test process ends without its teardown, no JVM is left behind. */
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of running) {
      try {
        if (child.pid) process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)

function serverXml(httpPort: number, shutdownPort: number, withUsers: boolean): string {
  const realm = withUsers
    ? `
  <GlobalNamingResources>
    <Resource name="UserDatabase" auth="Container" type="org.apache.catalina.UserDatabase"
              factory="org.apache.catalina.users.MemoryUserDatabaseFactory" pathname="conf/tomcat-users.xml" />
  </GlobalNamingResources>`
    : ''
  const engineRealm = withUsers
    ? '\n      <Realm className="org.apache.catalina.realm.UserDatabaseRealm" resourceName="UserDatabase"/>'
    : ''
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by the test harness (agent/test/helpers/tomcat.ts). -->
<Server port="${shutdownPort}" address="127.0.0.1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener" />${realm}
  <Service name="Catalina">
    <Connector port="${httpPort}" address="127.0.0.1" protocol="HTTP/1.1" connectionTimeout="20000" maxParameterCount="1000" />
    <Engine name="Catalina" defaultHost="localhost">${engineRealm}
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false" deployOnStartup="true">
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs" prefix="access" suffix=".log"
               rotatable="false" buffered="false" pattern="${ACCESS_LOG_PATTERN}" />
      </Host>
    </Engine>
  </Service>
</Server>
`
}

function usersXml(users: TomcatUser[]): string {
  const roles = [...new Set(users.flatMap((u) => u.roles))]
  return `<?xml version="1.0" encoding="UTF-8"?>
<tomcat-users xmlns="http://tomcat.apache.org/xml" version="1.0">
${roles.map((r) => `  <role rolename="${escapeXml(r)}"/>`).join('\n')}
${users.map((u) => `  <user username="${escapeXml(u.name)}" password="${escapeXml(u.password)}" roles="${escapeXml(u.roles.join(','))}"/>`).join('\n')}
</tomcat-users>
`
}

function killByPidFile(pidFile: string): void {
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
  if (!(pid > 0)) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

export class Tomcat {
  readonly name: string
  readonly base: string
  readonly httpPort: number
  readonly shutdownPort: number
  readonly pidFile: string
  readonly accessLog: string
  /** Standard output and error of the JVM (what catalina.out would hold). */
  readonly outLog: string
  private readonly javaOpts: string
  private child: ChildProcess | null = null
  private watchdog: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()

  private constructor(options: { name: string; base: string; httpPort: number; shutdownPort: number; javaOpts: string }) {
    this.name = options.name
    this.base = options.base
    this.httpPort = options.httpPort
    this.shutdownPort = options.shutdownPort
    this.javaOpts = options.javaOpts
    this.pidFile = join(this.base, 'tomcat.pid')
    this.accessLog = join(this.base, 'logs/access.log')
    this.outLog = join(this.base, 'logs/catalina.out')
  }

  /**
   * Makes a CATALINA_BASE in a temp folder (removed at teardown, after the JVM is killed) from
   * Debian's pristine config, with a server.xml of its own. Does not start Tomcat.
   */
  static async create(t: Teardowns, options: TomcatOptions = {}): Promise<Tomcat> {
    requireTomcat()
    const name = options.name ?? 'tomcat'
    const base = mkdtempSync(join(tmpdir(), `health-agent-${name}-`))
    const httpPort = options.httpPort ?? (await freePort())
    let shutdownPort = options.shutdownPort ?? (await freePort())
    while (shutdownPort === httpPort) shutdownPort = await freePort()
    for (const dir of ['conf', 'logs', 'temp', 'work', 'webapps']) mkdirSync(join(base, dir), { recursive: true })
    for (const file of ['web.xml', 'catalina.properties', 'context.xml', 'logging.properties']) {
      copyFileSync(join(CATALINA_HOME, 'etc', file), join(base, 'conf', file))
    }
    const users = options.users ?? []
    writeFileSync(join(base, 'conf/server.xml'), serverXml(httpPort, shutdownPort, users.length > 0))
    writeFileSync(join(base, 'conf/tomcat-users.xml'), usersXml(users), { mode: 0o600 })
    const tomcat = new Tomcat({ name, base, httpPort, shutdownPort, javaOpts: options.javaOpts ?? DEFAULT_JAVA_OPTS })
    t.teardown(async () => {
      await tomcat.kill('SIGKILL')
      // A Tomcat started as a daemon (catalina.sh start, by a script) is known by its pid file only.
      killByPidFile(tomcat.pidFile)
      rmSync(base, { recursive: true, force: true })
    })
    return tomcat
  }

  get pid(): number | null {
    return this.child?.pid ?? null
  }

  get running(): boolean {
    return this.child !== null
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${this.httpPort}${path}`
  }

  /** Copies a webapp folder to webapps/ under the context path's name (before start: autoDeploy is off). */
  deployDir(contextPath: string, source: string): void {
    const target = join(this.base, 'webapps', contextFolderName(contextPath))
    rmSync(target, { recursive: true, force: true })
    rmSync(`${target}.war`, { force: true })
    cpSync(source, target, { recursive: true })
  }

  /** Copies a WAR to webapps/ under the context path's name, removing what an older version left. */
  deployWar(contextPath: string, war: string): void {
    const target = join(this.base, 'webapps', contextFolderName(contextPath))
    rmSync(target, { recursive: true, force: true })
    rmSync(join(this.base, 'work/Catalina/localhost', contextFolderName(contextPath)), { recursive: true, force: true })
    copyFileSync(war, `${target}.war`)
  }

  /** Starts the JVM (`catalina.sh run`); returns once it is spawned. See waitUntilServing(). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running (pid ${this.child.pid})`)
    const out = openSync(this.outLog, 'a')
    const child = spawn(CATALINA_SH, ['run'], {
      cwd: this.base,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        ...(process.env.JAVA_HOME ? { JAVA_HOME: process.env.JAVA_HOME } : {}),
        CATALINA_HOME,
        CATALINA_BASE: this.base,
        CATALINA_PID: this.pidFile,
        CATALINA_TMPDIR: join(this.base, 'temp'),
        JAVA_OPTS: this.javaOpts,
      },
      stdio: ['ignore', out, out],
    })
    closeSync(out)
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', reject)
    })
    const pid = child.pid as number
    // `run` writes no pid file (only `start` does): keep CATALINA_PID meaningful for scripts.
    writeFileSync(this.pidFile, `${pid}\n`)
    this.child = child
    running.add(child)
    installExitHook()
    this.exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        running.delete(child)
        if (this.child === child) this.child = null
        resolve()
      }),
    )
    // Kills the JVM if this test process dies without its teardown (a crash, a kill -9 by tap).
    this.watchdog = spawn(
      '/bin/sh',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done; kill -9 "$2" 2>/dev/null',
        'tomcat-watchdog',
        String(process.pid),
        String(pid),
      ],
      { detached: true, stdio: 'ignore' },
    )
    this.watchdog.unref()
  }

  /** Waits until `path` answers 2xx or 3xx; fails early, with the JVM's output, if Tomcat exits. */
  async waitUntilServing(path = '/', timeoutMs = 60_000): Promise<void> {
    try {
      await waitFor(
        `${this.name} to serve ${path}`,
        async () => {
          if (!this.child) throw new Error(`${this.name} exited`)
          const res = await httpRequest(this.url(path)).catch((err: Error) => err)
          if (res instanceof Error) return false
          return res.status >= 200 && res.status < 400
        },
        { timeoutMs, intervalMs: 100 },
      )
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${this.outLog} (last lines) ---\n${this.outputTail()}`, { cause: err })
    }
  }

  /** Sends a signal to the JVM by PID; for SIGKILL, waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (child?.pid) {
      try {
        process.kill(child.pid, signal)
      } catch {
        // already gone
      }
      if (signal === 'SIGKILL') await this.exited
    }
    if (signal === 'SIGKILL') this.stopWatchdog()
  }

  /** SIGSTOP: the JVM keeps its sockets (the kernel still accepts connections) and answers nothing. */
  pause(): Promise<void> {
    return this.kill('SIGSTOP')
  }

  resume(): Promise<void> {
    return this.kill('SIGCONT')
  }

  /** Graceful stop through the shutdown port; SIGKILL if it is not gone within the time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.child) return
    await new Promise<void>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: this.shutdownPort }, () => socket.end('SHUTDOWN'))
      socket.on('error', () => resolve())
      socket.on('close', () => resolve())
    })
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout') await this.kill('SIGKILL')
    this.stopWatchdog()
  }

  accessLogLines(): string[] {
    return existsSync(this.accessLog) ? readFileSync(this.accessLog, 'utf8').split('\n').filter(Boolean) : []
  }

  outputTail(lines = 40): string {
    return existsSync(this.outLog) ? readFileSync(this.outLog, 'utf8').split('\n').slice(-lines).join('\n') : '(no output)'
  }

  private stopWatchdog(): void {
    const watchdog = this.watchdog
    this.watchdog = null
    if (watchdog?.pid) {
      try {
        // Its own process group (detached): the shell and its sleep.
        process.kill(-watchdog.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
}
