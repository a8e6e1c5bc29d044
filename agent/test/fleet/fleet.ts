import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { closeSshMasters } from '../helpers/ansible.js'
import { AGENT_BIN, requireBuilt } from '../helpers/cli.js'
import { startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js'
import { httpRequest } from '../helpers/http.js'
import { createNetwork, type NetnsNetwork } from '../helpers/netns.js'
import { ensurePrivsepDir, makeClientKeys, startSshd, type ClientKeys } from '../helpers/sshd.js'
import { freePort, removeOnExit, requireBinary, type Teardowns } from '../helpers/system.js'
import { CATALINA_HOME, DEFAULT_JAVA_OPTS, requireTomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'
import { writeWar } from '../helpers/war.js'
import { parseEnvFile } from './env-file.js'
import { versionOfBody, writeScript } from '../e2e/stack.js'

export { versionOfBody }

/**
 * A fleet of three hosts for the Ansible and rolling-deploy proofs: each host a network namespace
 * on a bridge (198.51.100.0/24, TEST-NET-2, used only inside the namespaces) with its own Tomcat 10
 * on :8080, its own sshd on :22 and, once installed by the role, its own agent on its default
 * ports; Debian's HAProxy in the root namespace checks the agents over the bridge with the
 * settings haproxy-snippets/httpchk-backend.cfg recommends. The namespaces share the file system:
 * each host's paths are under its own folder, given to the role and the scripts as variables.
 */

export const SUBNET_PREFIX = '198.51.100'
export const CONTEXT = 'app'
export const SLOW_MS = 300
/** A host whose CATALINA_BASE holds this file fails the health page of an app built with `failOnMarker`. */
export const FAULT_MARKER = 'fail-new-version'

export interface FleetHost {
  name: string
  namespace: string
  address: string
  root: string
  catalinaBase: string
  installDir: string
  dataDir: string
  envFile: string
  systemdDir: string
  startScript: string
  stopScript: string
  pidFile: string
  agentLog: string
}

export interface Fleet {
  dir: string
  hosts: FleetHost[]
  client: ClientKeys
  tarball: string
  haproxy: RunningHaproxy | null
  frontendUrl: string
  ansibleInventory: string
  /** Where the playbooks keep their state (ansibleEnv, runPlaybook); removed with the fleet. */
  ansibleDir: string
  rollingInventory: string
  /** Runs each host's agent as its systemd unit would: the unit's environment plus the settings file, the package's health-agent. */
  startAgents(): Promise<void>
  startHaproxy(t: Teardowns): Promise<RunningHaproxy>
  versionOf(host: FleetHost): Promise<string>
  serverStatus(host: FleetHost): Promise<string>
  counters(): Promise<Record<'econ' | 'eresp' | 'wretr' | 'wredis', number>>
  /** Synchronous: kills every process of the fleet, removes the namespaces, the bridge and the folder. */
  remove(): string[]
}

/** The test app: a health page for the agent's probe, a page and a slow JSP that say their version. */
export function writeAppWar(dir: string, version: string, options: { failOnMarker?: boolean } = {}): string {
  const directive = '<%@ page contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %>'
  const health = options.failOnMarker
    ? `${directive}<% if (new java.io.File(System.getProperty("catalina.base"), "${FAULT_MARKER}").exists()) { response.setStatus(503); out.print("FAULT"); } else { out.print("UP"); } %>\n`
    : `${directive}UP\n`
  const name = `app-${version}${options.failOnMarker ? '-fault' : ''}`
  const source = writeWebapp(join(dir, name), {
    'health.jsp': health,
    'index.jsp': `${directive}${version}\n`,
    'slow.jsp': `${directive}<% Thread.sleep(${SLOW_MS}); %>${version}\n`,
  })
  return writeWar(source, join(dir, `${name}.war`))
}

function serverXml(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- A fleet test host (agent/test/fleet/fleet.ts): HTTP on the host's own network, shutdown port on its loopback. -->
<Server port="8005" address="127.0.0.1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="8080" address="0.0.0.0" protocol="HTTP/1.1" connectionTimeout="20000" maxParameterCount="1000" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="true" autoDeploy="false" deployOnStartup="true" />
    </Engine>
  </Service>
</Server>
`
}

/** A CATALINA_BASE and the start and stop commands an operator's host would have. */
function makeTomcat(host: Pick<FleetHost, 'catalinaBase' | 'pidFile'>, war: string): { start: string; stop: string } {
  const base = host.catalinaBase
  for (const dir of ['conf', 'logs', 'temp', 'work', 'webapps']) mkdirSync(join(base, dir), { recursive: true })
  for (const file of ['web.xml', 'catalina.properties', 'context.xml', 'logging.properties'])
    copyFileSync(join(CATALINA_HOME, 'etc', file), join(base, 'conf', file))
  writeFileSync(join(base, 'conf/server.xml'), serverXml())
  copyFileSync(war, join(base, 'webapps', `${CONTEXT}.war`))
  const env = [
    `export CATALINA_HOME=${CATALINA_HOME} CATALINA_BASE=${base} CATALINA_PID=${host.pidFile}`,
    `export CATALINA_TMPDIR=${base}/temp CATALINA_OUT=${base}/logs/catalina.out JAVA_OPTS='${DEFAULT_JAVA_OPTS}'`,
  ].join('\n')
  const start = writeScript(join(base, 'start.sh'), `${env}\nexec ${CATALINA_HOME}/bin/catalina.sh start >/dev/null\n`)
  // The shutdown port stops a drained Tomcat in about 0.1 s; the JVM may then wait as a zombie.
  const stop = writeScript(
    join(base, 'stop.sh'),
    `pidfile=${host.pidFile}
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]; }
[ -s "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if gone "$pid"; then rm -f "$pidfile"; exit 0; fi
{ exec 3<>/dev/tcp/127.0.0.1/8005 && printf SHUTDOWN >&3 && exec 3>&-; } 2>/dev/null || true
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

function inNamespace(namespace: string, command: string[], timeoutMs = 120_000): string {
  const result = spawnSync('ip', ['netns', 'exec', namespace, ...command], { encoding: 'utf8', timeout: timeoutMs })
  if (result.status !== 0)
    throw new Error(`${command.join(' ')} in ${namespace} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`)
  return result.stdout
}

/** `npm pack` of this checkout, as built (the tests run after `npm run build`). */
function packPackage(dir: string): string {
  requireBuilt(AGENT_BIN)
  const result = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`npm pack failed: ${result.stderr}`)
  const name = result.stdout.trim().split('\n').at(-1) as string
  return join(dir, name)
}

/** The backend of haproxy-snippets/httpchk-backend.cfg with this fleet's servers in place of its examples. */
function snippetBackend(hosts: FleetHost[]): string {
  const snippet = readFileSync(join(PACKAGE_ROOT, 'haproxy-snippets/httpchk-backend.cfg'), 'utf8').split('\n')
  const start = snippet.findIndex((l) => /^backend /.test(l))
  if (start < 0) throw new Error('haproxy-snippets/httpchk-backend.cfg has no backend section')
  const body = snippet.slice(start + 1).filter((l) => !/^\s*#/.test(l) && !/^\s*server /.test(l) && l.trim() !== '')
  return ['backend be', ...body, ...hosts.map((h) => `    server ${h.name} ${h.address}:8080 cookie ${h.name}`)].join('\n')
}

function ansibleInventory(fleet: { hosts: FleetHost[]; client: ClientKeys; dir: string }): string {
  const hosts = Object.fromEntries(
    fleet.hosts.map((h) => [
      h.name,
      {
        ansible_host: h.address,
        ansible_user: 'root',
        ansible_ssh_private_key_file: fleet.client.privateKey,
        ansible_ssh_common_args: fleet.client.sshOptions.filter((o) => !o.startsWith('-oIdentityFile')).join(' '),
        ansible_remote_tmp: join(h.root, 'ansible-tmp'),
        ansible_python_interpreter: '/usr/bin/python3',
        tha_install_dir: h.installDir,
        tha_env_file: h.envFile,
        tha_data_dir: h.dataDir,
        tha_systemd_dir: h.systemdDir,
        tha_catalina_base: h.catalinaBase,
        tha_start_cmd: h.startScript,
        tha_stop_cmd: h.stopScript,
      },
    ]),
  )
  // Settings an operator sets; every timer stays at the agent's default.
  const vars = {
    context: CONTEXT,
    tha_settings: { tomcat_url: `http://127.0.0.1:8080/${CONTEXT}/health.jsp`, warmup_urls: [`/${CONTEXT}/`, `/${CONTEXT}/slow.jsp`] },
  }
  // JSON is YAML: Ansible's yaml inventory reads it.
  const file = join(fleet.dir, 'inventory.yml')
  writeFileSync(file, `${JSON.stringify({ tomcats: { hosts, vars } }, null, 2)}\n`)
  return file
}

function rollingInventory(fleet: { hosts: FleetHost[]; dir: string }): string {
  const lines = fleet.hosts.map((h) =>
    [
      h.name,
      `ssh=root@${h.address}`,
      `agent-dir=${h.installDir}`,
      `catalina-base=${h.catalinaBase}`,
      `context=${CONTEXT}`,
      `token-file=${join(h.dataDir, 'admin-token')}`,
      `start-cmd=${h.startScript}`,
      `stop-cmd=${h.stopScript}`,
    ].join(' '),
  )
  const file = join(fleet.dir, 'rolling-inventory')
  writeFileSync(file, `# the fleet: ${fleet.hosts.length} hosts over ssh\n${lines.join('\n')}\n`)
  return file
}

/**
 * Makes the fleet: network, Tomcats serving `war`, sshd on each host, the npm package packed, the
 * inventories. The agents are not installed: that is the role's job (see startAgents()). The
 * caller must call remove() (a try/finally); a signal or an exit removes the fleet too.
 */
export async function createFleet(dir: string, options: { war: string }): Promise<Fleet> {
  for (const binary of ['ip', 'sshd', 'ssh', 'scp', 'ssh-keygen', 'haproxy', 'ansible-playbook']) requireBinary(binary)
  requireTomcat()
  const network: NetnsNetwork = createNetwork({ tag: 'thafleet', prefix: SUBNET_PREFIX, count: 3 })
  const children: ChildProcess[] = []
  let haproxy: RunningHaproxy | null = null
  let removePrivsep: () => void = () => undefined
  let removed = false
  const remove = (): string[] => {
    if (removed) return []
    removed = true
    for (const child of children) if (child.exitCode === null && child.pid) spawnSync('kill', ['-9', String(child.pid)])
    if (haproxy?.process.exitCode === null) spawnSync('kill', ['-9', String(haproxy.pid)])
    closeSshMasters(
      join(dir, 'ansible'),
      network.hosts.map((h) => h.address),
    )
    const errors = network.remove()
    removePrivsep()
    rmSync(dir, { recursive: true, force: true })
    unguard()
    return errors
  }
  const unguard = removeOnExit(remove)
  try {
    removePrivsep = ensurePrivsepDir()
    const client = makeClientKeys(join(dir, 'client'))
    const hosts: FleetHost[] = network.hosts.map((n) => {
      const root = join(dir, n.name)
      return {
        ...n,
        root,
        catalinaBase: join(root, 'tomcat'),
        installDir: join(root, 'opt/tomcat-health-agent'),
        dataDir: join(root, 'var/lib/tomcat-health-agent'),
        envFile: join(root, 'etc/default/tomcat-health-agent'),
        systemdDir: join(root, 'etc/systemd/system'),
        startScript: '',
        stopScript: '',
        pidFile: join(root, 'tomcat/tomcat.pid'),
        agentLog: join(root, 'agent.log'),
      }
    })
    for (const host of hosts) {
      mkdirSync(join(host.root, 'ansible-tmp'), { recursive: true })
      mkdirSync(host.systemdDir, { recursive: true })
      const scripts = makeTomcat(host, options.war)
      host.startScript = scripts.start
      host.stopScript = scripts.stop
      inNamespace(host.namespace, [host.startScript])
      const sshd = await startSshd({ namespace: host.namespace, address: host.address, dir: join(host.root, 'sshd'), client })
      children.push(sshd.process)
    }
    await Promise.all(
      hosts.map((h) =>
        waitFor(
          `${h.name}'s Tomcat to serve /${CONTEXT}/`,
          async () => (await httpRequest(`http://${h.address}:8080/${CONTEXT}/`).catch(() => null))?.status === 200,
          {
            timeoutMs: 120_000,
            intervalMs: 200,
          },
        ),
      ),
    )
    const tarball = packPackage(dir)
    const base = { hosts, client, dir }
    const frontendPort = await freePort()
    const fleet: Fleet = {
      dir,
      hosts,
      client,
      tarball,
      haproxy: null,
      frontendUrl: `http://127.0.0.1:${frontendPort}/${CONTEXT}/`,
      ansibleInventory: ansibleInventory(base),
      ansibleDir: join(dir, 'ansible'),
      rollingInventory: rollingInventory(base),
      async startAgents() {
        for (const host of hosts) {
          // The unit: Environment=HEALTH_AGENT_DATA_DIR=..., EnvironmentFile=-..., ExecStart=node .../health-agent.mjs
          const env = {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HEALTH_AGENT_DATA_DIR: '/var/lib/tomcat-health-agent',
            ...parseEnvFile(readFileSync(host.envFile, 'utf8')),
          }
          mkdirSync(env.HEALTH_AGENT_DATA_DIR, { recursive: true })
          const out = openSync(host.agentLog, 'a')
          const child = spawn(
            'ip',
            ['netns', 'exec', host.namespace, process.execPath, join(host.installDir, 'dist/bin/health-agent.mjs')],
            { env, stdio: ['ignore', out, out] },
          )
          closeSync(out)
          children.push(child)
        }
        await Promise.all(
          hosts.map((h) =>
            waitFor(
              `${h.name}'s agent to answer its check on ${h.address}:9990`,
              async () => (await httpRequest(`http://${h.address}:9990/health`).catch(() => null))?.status === 200,
              {
                timeoutMs: 120_000,
                intervalMs: 200,
              },
            ).catch((err: Error) => {
              throw new Error(`${err.message}\n--- ${h.agentLog} ---\n${readFileSync(h.agentLog, 'utf8').slice(-3000)}`, { cause: err })
            }),
          ),
        )
      },
      async startHaproxy(t) {
        const config = `defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # The check's read timeout (without it: inter); a busy machine can answer late, not wrong.
    timeout check 2s
    timeout http-keep-alive 30s
    option http-server-close

frontend fe
    bind 127.0.0.1:${frontendPort}
    default_backend be

${snippetBackend(hosts)}
`
        haproxy = await startHaproxy(t, dir, config, 'lb1', ['node lb1'])
        fleet.haproxy = haproxy
        await waitFor(
          'HAProxy to see every host UP',
          async () => (await Promise.all(hosts.map((h) => fleet.serverStatus(h)))).every((s) => s === 'UP'),
          {
            timeoutMs: 120_000,
            intervalMs: 200,
          },
        )
        return haproxy
      },
      async versionOf(host) {
        const res = await httpRequest(`http://${host.address}:8080/${CONTEXT}/`)
        return res.status === 200 ? (versionOfBody(res.body) ?? `unknown(${res.body.trim()})`) : `HTTP ${res.status}`
      },
      async serverStatus(host) {
        if (!haproxy) throw new Error('HAProxy is not started')
        return (await haproxy.serverStat('be', host.name)).status ?? ''
      },
      async counters() {
        if (!haproxy) throw new Error('HAProxy is not started')
        const row = await haproxy.serverStat('be', 'BACKEND')
        return { econ: Number(row.econ), eresp: Number(row.eresp), wretr: Number(row.wretr), wredis: Number(row.wredis) }
      },
      remove,
    }
    return fleet
  } catch (err) {
    const errors = remove()
    if (errors.length > 0) throw new Error(`${(err as Error).message}\n(cleanup: ${errors.join('; ')})`, { cause: err })
    throw err
  }
}

/** Deploy history entries of a host's app (what deploy-war kept). */
export function keptVersions(host: FleetHost): string[] {
  try {
    return readdirSync(join(host.catalinaBase, 'deploy-history', CONTEXT))
  } catch {
    return []
  }
}
