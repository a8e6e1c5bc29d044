import { setTimeout as delay } from 'node:timers/promises'
import { parseCommandLine } from '../config/args.js'
import { loadClientConfig, type ClientConfig } from '../config/load.js'
import { CLIENT_SETTINGS } from '../config/schema.js'
import { ManagerError, ManagerTextClient } from '../tomcat/manager-text.js'
import { contextPathProblem, orderProblem, roleOf, versionProblem, versionsOf, type DeployedVersion } from '../tomcat/versions.js'
import { EXIT, UsageError } from './exit-codes.js'
import { parseDuration } from './weight-command.js'
import { waitVersion } from './version-wait.js'

export const TOMCAT_HELP = `Usage: agentctl tomcat list     --path /CTX [--json]
       agentctl tomcat deploy   --path /CTX --version V --war FILE
       agentctl tomcat undeploy --path /CTX --version V
       agentctl tomcat retire   --path /CTX [--max-age DUR] [--interval-ms MS]
       agentctl tomcat wait-version --version V [--timeout SEC]

Tomcat's parallel deployment through its manager (text API; a user with the manager-script
role only, on loopback): a new version of a context is deployed beside the running one without
a restart; requests without a session go to the newest version, sessions stay on the version
that made them.

  list          each deployed version of the context, its active sessions, which one takes
                new sessions and which ones drain
  deploy        deploy FILE as /CTX##V; V must sort after every deployed version (Tomcat
                compares versions as text: zero-pad numbers, or use a UTC time such as
                20261207T180000). A version that fails to start is undeployed again: exit 1
  undeploy      remove /CTX##V
  retire        watch the versions older than the newest: each is undeployed once it has no
                active session, or when --max-age (default 1h) has passed since retire began;
                says how many sessions that ended. Exits once only the newest is left
  wait-version  wait until the agent (admin API) sees V as the newest version and its warm-up
                has passed: exit 0; 1 if the warm-up failed or --timeout (default 120) passed

Options:
  --tomcat-manager-url URL              the manager, such as http://127.0.0.1:8080/manager
  --tomcat-manager-credentials-file F   USER:PASSWORD on its first line
                                        (both default to the agent's settings: --config, env)
  --agent URL, --token-file PATH, --config FILE   the agent, for wait-version

Exit codes: 0 done; 1 the version failed to start or warm up (and was undeployed), or a wait
timed out; 2 bad usage (a context or version Tomcat would refuse); 5 the manager refused or failed.
`

const MANAGER_TIMEOUT_MS = 60_000
const DEFAULT_MAX_AGE_S = 3600

interface TomcatArgs {
  sub: string
  path: string
  version: string
  options: Record<string, string | boolean | undefined>
  config: ClientConfig
}

function parse(argv: string[]): TomcatArgs | 'help' {
  const cli = parseCommandLine(
    argv,
    {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      path: { type: 'string' },
      version: { type: 'string' },
      war: { type: 'string' },
      'max-age': { type: 'string' },
      'interval-ms': { type: 'string' },
      timeout: { type: 'string' },
    },
    CLIENT_SETTINGS,
  )
  if (cli.options.help) return 'help'
  const [sub, extra] = cli.positionals
  const subs = ['list', 'deploy', 'undeploy', 'retire', 'wait-version']
  if (!sub || !subs.includes(sub)) throw new UsageError(`tomcat: expected one of ${subs.join(', ')}, got ${JSON.stringify(sub ?? '')}`)
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}" after tomcat ${sub}`)
  const path = (cli.options.path as string | undefined) ?? ''
  if (sub !== 'wait-version') {
    const problem = path ? contextPathProblem(path) : 'expected a context path such as /app'
    if (problem) throw new UsageError(`--path: ${problem}`)
  }
  const version = (cli.options.version as string | undefined) ?? ''
  if (sub === 'deploy' || sub === 'undeploy' || sub === 'wait-version') {
    const problem = versionProblem(version)
    if (problem) throw new UsageError(`--version: ${problem}`)
  }
  if (sub === 'deploy' && !cli.options.war) throw new UsageError('--war FILE is required with tomcat deploy')
  const config = loadClientConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  return { sub, path, version, options: cli.options, config }
}

function managerOf(config: ClientConfig): ManagerTextClient {
  if (!config.tomcatManagerUrl) throw new UsageError('no Tomcat manager: set --tomcat-manager-url (or the agent config it reads)')
  if (!config.tomcatManagerCredentialsFile) throw new UsageError('no manager credentials: set --tomcat-manager-credentials-file')
  return new ManagerTextClient({
    url: config.tomcatManagerUrl.replace(/\/+$/, ''),
    credentialsFile: config.tomcatManagerCredentialsFile,
    timeoutMs: MANAGER_TIMEOUT_MS,
  })
}

const ROLE_TEXT = { new: 'takes new sessions', old: 'old: draining', stopped: 'stopped: takes no session' } as const
const label = (v: DeployedVersion) => (v.version ? `${v.path === '/' ? '' : v.path}##${v.version}` : v.path)
const sessionsText = (n: number) => `${n} active session${n === 1 ? '' : 's'}`

/** One line per version, oldest first: the newest takes new sessions, the others drain. */
export function describeVersions(versions: readonly DeployedVersion[]): string {
  if (versions.length === 0) return 'no version deployed\n'
  return versions.map((v) => `${label(v)}: ${v.status}, ${sessionsText(v.sessions)}, ${ROLE_TEXT[roleOf(versions, v)]}\n`).join('')
}

async function deploy(manager: ManagerTextClient, args: TomcatArgs): Promise<number> {
  const before = versionsOf(await manager.list(), args.path)
  const order = orderProblem(
    args.version,
    before.map((v) => v.version),
  )
  if (order) throw new UsageError(`--version: ${order}`)
  try {
    await manager.deploy(args.path, args.version, args.options.war as string)
  } catch (err) {
    if (!(err instanceof ManagerError)) throw err
    // Deployed but not started (a failing listener, a bad web.xml): it must not stay to take sessions.
    const left = versionsOf(await manager.list(), args.path).some((v) => v.version === args.version)
    if (left) await manager.undeploy(args.path, args.version)
    process.stderr.write(
      `agentctl: tomcat deploy of ${args.path}##${args.version} failed: ${err.message}${left ? '; undeployed it again' : ''}\n`,
    )
    return EXIT.NOT_REACHED
  }
  const beside = before.length > 0 ? ` beside ${before.map((v) => `${label(v)} (${sessionsText(v.sessions)})`).join(', ')}` : ''
  process.stdout.write(`deployed ${args.path}##${args.version}${beside}: it takes the new sessions\n`)
  return EXIT.OK
}

/** Undeploys the versions older than the newest as their sessions end, or at the maximum age. */
async function retire(manager: ManagerTextClient, args: TomcatArgs): Promise<number> {
  const maxAgeText = args.options['max-age'] as string | undefined
  const maxAgeS = maxAgeText === undefined ? DEFAULT_MAX_AGE_S : parseDuration(maxAgeText)
  if (maxAgeS === null) throw new UsageError(`--max-age: expected a duration such as 600, 30m or 2h, got ${JSON.stringify(maxAgeText)}`)
  const intervalMs = Number(args.options['interval-ms'] ?? 1000)
  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 600_000)
    throw new UsageError(`--interval-ms: expected an integer from 100 to 600000, got ${JSON.stringify(args.options['interval-ms'])}`)
  const started = Date.now()
  let reported = ''
  for (;;) {
    const old = versionsOf(await manager.list(), args.path).slice(0, -1)
    if (old.length === 0) {
      process.stdout.write(`retire: only the newest version of ${args.path} is left\n`)
      return EXIT.OK
    }
    const expired = Date.now() - started >= maxAgeS * 1000
    for (const v of old.filter((o) => o.sessions === 0 || expired)) {
      await manager.undeploy(v.path, v.version)
      const why =
        v.sessions === 0
          ? 'its sessions ended (0 active)'
          : `the maximum age ${maxAgeText ?? '1h'} passed: ${sessionsText(v.sessions)} ended with it`
      process.stdout.write(`retire: undeployed ${label(v)}: ${why}\n`)
    }
    const waiting = old.filter((o) => o.sessions > 0 && !expired)
    const line = waiting.map((v) => `${label(v)} ${sessionsText(v.sessions)}`).join(', ')
    if (line && line !== reported) process.stderr.write(`retire: waiting for ${line}\n`)
    reported = line
    await delay(intervalMs)
  }
}

/** `agentctl tomcat ...`: exit codes as in TOMCAT_HELP. */
export async function runTomcat(argv: string[]): Promise<number> {
  const args = parse(argv)
  if (args === 'help') {
    process.stdout.write(TOMCAT_HELP)
    return EXIT.OK
  }
  if (args.sub === 'wait-version') return waitVersion(args.config, args.version, args.options.timeout as string | undefined)
  const manager = managerOf(args.config)
  try {
    switch (args.sub) {
      case 'list': {
        const versions = versionsOf(await manager.list(), args.path)
        process.stdout.write(args.options.json ? `${JSON.stringify(versions, null, 2)}\n` : describeVersions(versions))
        return EXIT.OK
      }
      case 'deploy':
        return await deploy(manager, args)
      case 'undeploy':
        process.stdout.write(`${await manager.undeploy(args.path, args.version)}\n`)
        return EXIT.OK
      default:
        return await retire(manager, args)
    }
  } catch (err) {
    if (!(err instanceof ManagerError)) throw err
    process.stderr.write(`agentctl: tomcat ${args.sub}: ${err.message}\n`)
    return EXIT.FAILED
  }
}
