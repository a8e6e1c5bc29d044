#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { hostname, userInfo } from 'node:os'
import { parseCommandLine } from '../config/args.js'
import { loadConfig } from '../config/load.js'
import { settingInfo, ENV_PREFIX, type SettingInfo } from '../config/schema.js'
import { isAgentError } from '../errors.js'
import { VERSION_LINE } from '../package-info.js'
import { ADMIN_STATES, HTTP_STATUS_OF, type AdminState } from '../state/model.js'
import type { AgentStatus } from '../status.js'
import { describeTomcat } from '../tomcat/describe.js'
import { goalOf } from '../lb/confirm.js'
import type { WaitEvent } from '../lb/tracker.js'
import { callAgent, ClientError, parseAgentUrl, streamAgent, type AgentEndpoint } from './admin-client.js'
import { EXIT, UsageError } from './exit-codes.js'
import { lbLine, outcomeMessage, plainLine, PLAIN_PROGRESS_EVERY_MS, ttyBlock, TtyPainter } from './wait-progress.js'
import { describeWeight, describeWeightChange, parseWeightArgs, weightRequest, type WeightCommand } from './weight-command.js'

export const AGENT_URL_ENV = `${ENV_PREFIX}URL`
const REQUEST_TIMEOUT_MS = 10_000
const DEFAULT_WAIT_TIMEOUT_S = 300

const HELP = `Usage: agentctl <command> [options]
       agentctl drain --wait [--timeout SECONDS] [--force-after SECONDS]

Reads and sets the admin state of a tomcat-health-agent.

Commands:
  status                 show the effective and admin state, why they differ, and what
                         the agent sees of Tomcat (probe, warm-up, manager signals)
  ready                  take traffic (load balancers get 200)
  drain                  no new sessions; in-flight and persistent ones finish (404)
  down                   out of the farm (500)
  weight N% [--for DUR]  agent-check weight override, 1% to 100% (DUR: 600, 90s, 10m, 2h, 1d)
  weight clear           end the override: the ramp or 100% applies again

Options:
  --reason TEXT          why (stored in the state file and the audit log)
  --by NAME              who (default: $USER@hostname)
  --json                 print the agent's status as JSON (stable, for scripts);
                         with --wait, the wait's last event
  --wait                 after setting the state, wait until every load balancer confirms it:
                         drain: no sessions left (NOLB/DOWN, scur=0); down: none sends
                         traffic; ready: all report UP. Progress is shown as it goes.
  --timeout SECONDS      give up waiting after this long: exit 1, the state stays set
                         (default 300; 0 waits for ever)
  --force-after SECONDS  stop waiting after this long and go on anyway: exit 0 with a warning
  --for DURATION         with weight N%: the override ends by itself after this long
  --agent URL            admin API of the agent: http://HOST:PORT or unix:/PATH
                         env ${AGENT_URL_ENV} (default: the agent's --admin-listen)
  --token-file PATH      admin token (default: the agent's, DATA_DIR/admin-token)
                         env HEALTH_AGENT_TOKEN_FILE
  --config FILE          the agent's config file, to find its admin address and token
  --help, --version

Exit codes:
  0  done (with --wait: confirmed, or --force-after passed)
  1  the goal was not reached: --timeout passed, or the state was changed meanwhile
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
  /** With --wait: seconds, 0 meaning never. */
  wait: { timeout: number; forceAfter: number } | null
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
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      'force-after': { type: 'string' },
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
  const wait = parseWait(command, cli.options)

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
    wait,
    reason: cli.options.reason as string | undefined,
    by: (cli.options.by as string | undefined) ?? defaultBy(),
    endpoint,
    token,
  }
}

function seconds(options: Record<string, unknown>, flag: string, fallback: number): number {
  const value = options[flag]
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value) || Number(value) > 86_400) {
    throw new UsageError(`--${flag}: expected a number of seconds from 0 to 86400, got ${JSON.stringify(value)}`)
  }
  return Number(value)
}

function parseWait(command: string, options: Record<string, unknown>): Invocation['wait'] {
  if (!options.wait) {
    for (const flag of ['timeout', 'force-after']) if (options[flag] !== undefined) throw new UsageError(`--${flag} goes with --wait`)
    return null
  }
  if (command === 'status') throw new UsageError('--wait goes with ready, drain or down, not status')
  const forceAfter = seconds(options, 'force-after', 0)
  if (options['force-after'] !== undefined && forceAfter === 0) throw new UsageError('--force-after: expected more than 0 seconds')
  return { timeout: seconds(options, 'timeout', DEFAULT_WAIT_TIMEOUT_S), forceAfter }
}

function describeLoadBalancers(status: AgentStatus): string[] {
  const lbs = status.loadBalancers
  const c = lbs?.confirmation
  if (!c) return []
  const settings = `stale after ${lbs.staleAfterMs / 1000}s${lbs.expected.length ? `, expected ${lbs.expected.join(', ')}` : ''}`
  const lines = [`lbs         ${c.goal} ${c.confirmed ? 'confirmed' : 'not confirmed'} (${settings})`]
  for (const lb of c.loadBalancers) lines.push(`  ${lbLine(lb)}`)
  for (const name of c.missing) if (!c.loadBalancers.some((lb) => lb.lb === name)) lines.push(`  ${name.padEnd(24)} expected, has not checked`)
  if (!c.confirmed && c.loadBalancers.length === 0) lines.push(`  ${c.why}`)
  return lines
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
  for (const [label, text] of describeTomcat(status.tomcat)) lines.push(`${label.padEnd(11)} ${text}`)
  const problem = status.stateFile.problem
  lines.push(`state file  ${status.stateFile.path}: ${problem ? `${problem.kind} since ${problem.since}: ${problem.message} (last good state kept)` : 'ok'}`)
  lines.push(...describeLoadBalancers(status))
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
    process.stdout.write(`${VERSION_LINE}\n`)
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
    // With --wait, one document at the end: {"status": ..., "wait": <the wait's last event>}.
    if (invocation.wait) return waitFor(invocation, command, invocation.wait, after)
    process.stdout.write(`${JSON.stringify(after, null, 2)}\n`)
    return EXIT.OK
  }
  const was = before.admin?.state ?? 'unknown'
  const lines = [
    `${command}: admin state ${was === command ? 'stays' : 'is now'} ${command}${was === command ? '' : ` (was ${was})`}; the check answers ${HTTP_STATUS_OF[command]} when nothing overrides it`,
  ]
  if (after.effective.state !== command) lines.push(`note: the agent answers ${after.effective.state} (HTTP ${after.effective.httpStatus}) because ${after.effective.why}`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return invocation.wait ? waitFor(invocation, command, invocation.wait, after) : EXIT.OK
}

/** Streams `/v1/wait` for the state just set, showing progress, and turns its outcome into an exit code. */
async function waitFor(invocation: Invocation, command: AdminState, wait: NonNullable<Invocation['wait']>, status: AgentStatus): Promise<number> {
  const goal = goalOf(command)
  const tty = !invocation.json && process.stdout.isTTY === true
  const query = `for=${goal}&timeout=${wait.timeout}${wait.forceAfter ? `&force-after=${wait.forceAfter}` : ''}&progress=${tty ? 0.5 : 1}`
  const limits = [wait.timeout ? ` (timeout ${wait.timeout}s` : ' (no timeout', wait.forceAfter ? `, going on after ${wait.forceAfter}s)` : ')'].join('')
  const painter = tty ? new TtyPainter(process.stdout) : null
  let lastPlainAt = -Infinity
  let done: WaitEvent | null = null
  await streamAgent(
    invocation.endpoint,
    invocation.token,
    `/v1/wait?${query}`,
    (value) => {
      const event = value as WaitEvent
      if (event.event === 'done') {
        done = event
        return
      }
      if (invocation.json) return
      if (painter) painter.paint(ttyBlock(event, limits))
      else if (event.elapsedMs - lastPlainAt >= PLAIN_PROGRESS_EVERY_MS) {
        lastPlainAt = event.elapsedMs
        process.stdout.write(`${plainLine(event)}\n`)
      }
    },
    REQUEST_TIMEOUT_MS,
  )
  const last = done as WaitEvent | null
  if (!last) throw new ClientError('failed', 'the agent ended the wait without an outcome')
  if (painter) painter.paint(ttyBlock(last, limits))
  if (invocation.json) process.stdout.write(`${JSON.stringify({ status, wait: last }, null, 2)}\n`)
  const message = `${outcomeMessage(last, command)}\n`
  if (last.outcome === 'confirmed') {
    if (!invocation.json) process.stdout.write(message)
    return EXIT.OK
  }
  process.stderr.write(`agentctl: ${message}`)
  return last.outcome === 'forced' ? EXIT.OK : EXIT.NOT_REACHED
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

