#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { parseCommandLine } from '../config/args.js'
import { loadConfig } from '../config/load.js'
import { settingInfo, ENV_PREFIX, type SettingInfo } from '../config/schema.js'
import { isAgentError } from '../errors.js'
import { PACKAGE_VERSION } from '../package-info.js'
import { ADMIN_STATES, HTTP_STATUS_OF, type AdminState } from '../state/model.js'
import type { AgentStatus } from '../status.js'
import { callAgent, ClientError, parseAgentUrl, type AgentEndpoint } from './admin-client.js'
import { EXIT, UsageError } from './exit-codes.js'
import { describeWeight, describeWeightChange, parseWeightArgs, weightRequest, type WeightCommand } from './weight-command.js'

export const AGENT_URL_ENV = `${ENV_PREFIX}URL`
const REQUEST_TIMEOUT_MS = 10_000

const HELP = `Usage: agentctl <command> [options]

Reads and sets the admin state of a tomcat-health-agent.

Commands:
  status                 show the effective and admin state, and why they differ
  ready                  take traffic (load balancers get 200)
  drain                  no new sessions; in-flight and persistent ones finish (404)
  down                   out of the farm (500)
  weight N% [--for DUR]  agent-check weight override, 1% to 100% (DUR: 600, 90s, 10m, 2h, 1d)
  weight clear           end the override: the ramp or 100% applies again

Options:
  --reason TEXT          why (stored in the state file and the audit log)
  --by NAME              who (default: $USER@hostname)
  --json                 print the agent's status as JSON (stable, for scripts)
  --for DURATION         with weight N%: the override ends by itself after this long
  --agent URL            admin API of the agent: http://HOST:PORT or unix:/PATH
                         env ${AGENT_URL_ENV} (default: the agent's --admin-listen)
  --token-file PATH      admin token (default: the agent's, DATA_DIR/admin-token)
                         env HEALTH_AGENT_TOKEN_FILE
  --config FILE          the agent's config file, to find its admin address and token
  --help, --version

Exit codes:
  0  done
  2  bad usage (unknown command or option, unreadable token file)
  3  agent unreachable (not running, wrong --agent)
  4  refused by the agent (wrong token, invalid request)
  5  the agent failed or answered something unexpected
`

const CLI_SETTINGS = ['tokenFile', 'dataDir'].map((name) => settingInfo(name) as SettingInfo)

interface Invocation {
  command: 'status' | 'weight' | AdminState
  weight?: WeightCommand
  json: boolean
  reason?: string
  by: string
  endpoint: AgentEndpoint
  token: string
}

function defaultBy(): string {
  let user = process.env.SUDO_USER || process.env.USER || ''
  try {
    user ||= userInfo().username
  } catch {
    user ||= 'unknown'
  }
  return `${user}@${hostname()}`
}

function parseInvocation(argv: string[]): Invocation | 'help' | 'version' {
  const cli = parseCommandLine(
    argv,
    {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
      json: { type: 'boolean' },
      reason: { type: 'string' },
      by: { type: 'string' },
      agent: { type: 'string' },
      config: { type: 'string' },
      for: { type: 'string' },
    },
    CLI_SETTINGS,
  )
  if (cli.options.help) return 'help'
  if (cli.options.version) return 'version'
  const [command, ...rest] = cli.positionals
  if (!command) throw new UsageError('missing command: expected one of status, ready, drain, down, weight (see --help)')
  if (command !== 'status' && command !== 'weight' && !(ADMIN_STATES as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}": expected one of status, ready, drain, down, weight`)
  }
  const weight = command === 'weight' ? parseWeightArgs(rest, cli.options.for as string | undefined) : undefined
  if (command !== 'weight' && cli.options.for !== undefined) throw new UsageError('--for goes with weight N%')
  if (command !== 'weight' && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" (quote a reason with spaces: --reason "deploy v42")`)
  if (command === 'status' && cli.options.reason !== undefined) throw new UsageError('--reason goes with ready, drain or down, not status')

  const config = loadConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  const url = (cli.options.agent as string | undefined) ?? process.env[AGENT_URL_ENV] ?? config.adminListen
  const endpoint = parseAgentUrl(url)
  if (!endpoint) throw new UsageError(`--agent: expected http://HOST:PORT or unix:/PATH, got ${JSON.stringify(url)}`)
  let token: string
  try {
    token = readFileSync(config.tokenFile, 'utf8').trim()
  } catch (err) {
    throw new UsageError(
      `cannot read the admin token from ${config.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (the agent creates it at first start; see --token-file)`,
    )
  }
  return {
    command: command as Invocation['command'],
    weight,
    json: cli.options.json === true,
    reason: cli.options.reason as string | undefined,
    by: (cli.options.by as string | undefined) ?? defaultBy(),
    endpoint,
    token,
  }
}

function describeStatus(status: AgentStatus): string {
  const e = status.effective
  const lines = [`effective   ${e.state} (HTTP ${e.httpStatus})${e.why ? `  because ${e.why}` : ''}`]
  if (status.admin) {
    const a = status.admin
    lines.push(`admin       ${a.state} since ${a.since}${a.by ? ` by ${a.by}` : ''}${a.reason ? `: ${a.reason}` : ''}`)
  } else {
    lines.push('admin       unknown (no valid state file read yet)')
  }
  const problem = status.stateFile.problem
  lines.push(`state file  ${status.stateFile.path}: ${problem ? `${problem.kind} since ${problem.since}: ${problem.message} (last good state kept)` : 'ok'}`)
  lines.push(...describeWeight(status))
  lines.push(`agent       ${status.agent.name} ${status.agent.version} (node ${status.agent.node}, pid ${status.agent.pid})`)
  return `${lines.join('\n')}\n`
}

async function run(argv: string[]): Promise<number> {
  const invocation = parseInvocation(argv)
  if (invocation === 'help') {
    process.stdout.write(HELP)
    return EXIT.OK
  }
  if (invocation === 'version') {
    process.stdout.write(`${PACKAGE_VERSION}\n`)
    return EXIT.OK
  }
  const { command, endpoint, token } = invocation
  if (command === 'status') {
    const status = await callAgent<AgentStatus>(endpoint, token, 'GET', '/v1/status', undefined, REQUEST_TIMEOUT_MS)
    process.stdout.write(invocation.json ? `${JSON.stringify(status, null, 2)}\n` : describeStatus(status))
    return EXIT.OK
  }
  if (command === 'weight') {
    const { method, body } = weightRequest(invocation.weight as WeightCommand, { reason: invocation.reason, by: invocation.by })
    const after = await callAgent<AgentStatus>(endpoint, token, method, '/v1/weight', body, REQUEST_TIMEOUT_MS)
    process.stdout.write(invocation.json ? `${JSON.stringify(after, null, 2)}\n` : `${describeWeightChange(invocation.weight as WeightCommand, after)}\n`)
    return EXIT.OK
  }
  const before = await callAgent<AgentStatus>(endpoint, token, 'GET', '/v1/status', undefined, REQUEST_TIMEOUT_MS)
  const body = { state: command, reason: invocation.reason, by: invocation.by }
  const after = await callAgent<AgentStatus>(endpoint, token, 'PUT', '/v1/state', body, REQUEST_TIMEOUT_MS)
  if (invocation.json) {
    process.stdout.write(`${JSON.stringify(after, null, 2)}\n`)
    return EXIT.OK
  }
  const was = before.admin?.state ?? 'unknown'
  const lines = [
    `${command}: admin state ${was === command ? 'stays' : 'is now'} ${command}${was === command ? '' : ` (was ${was})`}; the check answers ${HTTP_STATUS_OF[command]} when nothing overrides it`,
  ]
  if (after.effective.state !== command) lines.push(`note: the agent answers ${after.effective.state} (HTTP ${after.effective.httpStatus}) because ${after.effective.why}`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return EXIT.OK
}

function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || isAgentError(err)) return EXIT.USAGE
  if (err instanceof ClientError) return err.kind === 'unreachable' ? EXIT.UNREACHABLE : err.kind === 'refused' ? EXIT.REFUSED : EXIT.FAILED
  return EXIT.FAILED
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    const known = err instanceof UsageError || err instanceof ClientError || isAgentError(err)
    process.stderr.write(`agentctl: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`)
    process.exitCode = exitCodeFor(err)
  },
)

