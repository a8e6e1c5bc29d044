#!/usr/bin/env node
import { hostname, userInfo } from 'node:os'
import { parseCommandLine } from '../config/args.js'
import { loadClientConfig } from '../config/load.js'
import { CLIENT_SETTINGS } from '../config/schema.js'
import { isAgentError } from '../errors.js'
import { VERSION_LINE } from '../package-info.js'
import {
  ADMIN_STATES,
  goalOf,
  HTTP_STATUS_OF,
  MAX_EXPIRY_SECONDS,
  type AdminState,
  type AgentStatus,
  type AuditTail,
  type WaitEvent,
} from '../protocol/status.js'
import { renderStatus } from '../protocol/render.js'
import { DEFAULT_WAIT_TIMEOUT_S, StateRequestSchema, WaitQuerySchema, type WaitQuery } from '../protocol/requests.js'
import { validateRequest } from '../protocol/validate.js'
import { agentTarget } from './agent-target.js'
import { callAgent, ClientError, streamAgent, type AgentEndpoint } from './admin-client.js'
import { EXIT, UsageError } from './exit-codes.js'
import { outcomeMessage, plainLine, PLAIN_PROGRESS_EVERY_MS, ttyBlock, TtyPainter } from './wait-progress.js'
import { describeWeightChange, parseDuration, parseWeightArgs, weightRequest, type WeightCommand } from './weight-command.js'
import { describeHistory, historyQuery } from './history-command.js'
import { runCanary } from './canary-command.js'
import { runTomcat } from './tomcat-command.js'
import { waitSessions } from './sessions-wait.js'

const REQUEST_TIMEOUT_MS = 10_000

const HELP = `Usage: agentctl <command> [options]
       agentctl drain --wait [--timeout SECONDS] [--force-after SECONDS]

Reads and sets the admin state of a tomcat-health-agent.

Commands:
  status                 show the effective and admin state, why they differ, and what
                         the agent sees of Tomcat (probe, warm-up, manager signals)
  ready                  take traffic (load balancers get 200)
  drain                  no new sessions; in-flight and persistent ones finish (404)
  down                   out of the farm (500)
  down --drain-first --wait
                         drain, wait until every load balancer confirms it, then down and
                         wait again: what a deploy does before stopping Tomcat, in one call
  drain|down --for DUR   the state ends by itself after DUR: the agent sets ready then,
                         which answers 200 only once Tomcat is up and warmed up
  weight N% [--for DUR]  agent-check weight override, 1% to 100% (DUR: 600, 90s, 10m, 2h, 1d)
  weight clear           end the override: the ramp or 100% applies again
  history                the last state changes from the audit log: when, from, to, how
                         long each lasted, who and why (--since TIME|DUR, --limit N, --json)
  canary --for DUR       watch Tomcat's answers (5xx ratio, p99) for DUR against fixed
                         limits: exit 0 passed, 6 failed (agentctl canary --help)
  tomcat list|deploy|undeploy|retire|wait-version
                         Tomcat's parallel deployment through its manager: a new version
                         beside the running one, old ones undeployed as their sessions end
                         (agentctl tomcat --help)

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
                         (with --drain-first: for the drain)
  --drain-timeout SEC    with --drain-first: give up on the drain after this long: exit 1,
                         the server stays drained and is not set down (default 300)
  --wait-sessions SEC    with drain --wait (or down --drain-first): once the drain is
                         confirmed, also wait until Tomcat reports no active session on the
                         watched contexts (the agent's manager), at most SEC seconds; past it,
                         go on and say how many sessions a restart now loses
  --for DURATION         with drain, down or weight N%: ends by itself after this long (at most 7d)
  --agent URL            admin API of the agent: http://HOST:PORT or unix:/PATH
                         env HEALTH_AGENT_URL (default: the agent's --admin-listen)
  --token-file PATH      admin token (default: the agent's, DATA_DIR/admin-token)
                         env HEALTH_AGENT_TOKEN_FILE
  --config FILE          the agent's config file, to find its admin address and token;
                         only those settings are read (and --admin-listen, --data-dir)
  --since TIME|DUR       with history: changes since an ISO time or this long ago (2h, 1d)
  --limit N              with history: at most N changes, the newest (default 20)
  --help, --version

Exit codes:
  0  done (with --wait: confirmed, or --force-after passed)
  1  the goal was not reached: --timeout passed, or the state was changed meanwhile
  2  bad usage (unknown command or option, unreadable token file)
  3  agent unreachable (not running, wrong --agent)
  4  refused by the agent (wrong token, invalid request)
  5  the agent failed or answered something unexpected
  6  canary: the host failed the gate
`

interface WaitLimits {
  timeout: number
  forceAfter: number
}

interface Invocation {
  command: 'status' | 'weight' | 'history' | AdminState
  weight?: WeightCommand
  /** history: the query string for /v1/history. */
  historyQuery?: string
  json: boolean
  /** With --wait: seconds, 0 meaning never. */
  wait: WaitLimits | null
  /** down --drain-first: the drain's own wait, before down's. */
  drainFirst: WaitLimits | null
  /** --wait-sessions: seconds to wait for Tomcat's sessions after a confirmed drain. */
  waitSessions: number | null
  reason?: string
  by: string
  /** drain or down --for: seconds until the agent ends the state itself. */
  forSeconds?: number
  endpoint: AgentEndpoint
  token: string
}

function defaultBy(): string {
  // The account that runs agentctl before $USER: systemd's "+" commands (the tomcat10 drop-in) run
  // as root with USER=tomcat. $USER stays the fallback for a uid with no passwd entry.
  let user = process.env.SUDO_USER || ''
  try {
    user ||= userInfo().username
  } catch {
    user ||= process.env.USER || 'unknown'
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
      config: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      'force-after': { type: 'string' },
      'drain-first': { type: 'boolean' },
      'drain-timeout': { type: 'string' },
      'wait-sessions': { type: 'string' },
      for: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
    },
    CLIENT_SETTINGS,
  )
  if (cli.options.help) return 'help'
  if (cli.options.version) return 'version'
  const [command, ...rest] = cli.positionals
  if (!command) throw new UsageError('missing command: expected one of status, ready, drain, down, weight, history (see --help)')
  if (command !== 'status' && command !== 'weight' && command !== 'history' && !(ADMIN_STATES as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}": expected one of status, ready, drain, down, weight, history`)
  }
  if (command !== 'history')
    for (const flag of ['since', 'limit']) if (cli.options[flag] !== undefined) throw new UsageError(`--${flag} goes with history`)
  const historyQueryText =
    command === 'history' ? historyQuery(cli.options.since as string | undefined, cli.options.limit as string | undefined) : undefined
  const weight = command === 'weight' ? parseWeightArgs(rest, cli.options.for as string | undefined) : undefined
  const forSeconds = command === 'drain' || command === 'down' ? stateDuration(cli.options.for as string | undefined) : undefined
  if (command !== 'weight' && forSeconds === undefined && cli.options.for !== undefined)
    throw new UsageError('--for goes with drain, down or weight N%')
  if (command !== 'weight' && rest.length > 0)
    throw new UsageError(`unexpected argument "${rest[0]}" (quote a reason with spaces: --reason "deploy v42")`)
  if ((command === 'status' || command === 'history') && cli.options.reason !== undefined)
    throw new UsageError(`--reason goes with ready, drain or down, not ${command}`)
  const drainFirst = parseDrainFirst(command, cli.options)
  const waitSessionsS = parseWaitSessions(command, cli.options, drainFirst !== null)
  const wait = parseWait(command, drainFirst ? { ...cli.options, 'force-after': undefined } : cli.options)
  const reason = cli.options.reason as string | undefined
  const by = (cli.options.by as string | undefined) ?? defaultBy()
  // Checked before anything is sent, with the schema the agent checks it with.
  if (command !== 'status' && command !== 'weight' && command !== 'history')
    asUsage(() => validateRequest(StateRequestSchema, { state: command, reason, by, for: forSeconds }))

  const config = loadClientConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  const { endpoint, token } = agentTarget(config)
  return {
    command: command as Invocation['command'],
    weight,
    historyQuery: historyQueryText,
    json: cli.options.json === true,
    wait,
    drainFirst,
    waitSessions: waitSessionsS,
    reason,
    by,
    forSeconds,
    endpoint,
    token,
  }
}

/** A refusal by the protocol's schema, said of the flag that carried the value: `--reason: expected ...`. */
function asUsage<T>(validate: () => T, flags: Record<string, string> = {}): T {
  try {
    return validate()
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^"([^"]+)"/, (_, field: string) => flags[field] ?? `--${field}`))
  }
}

/** `--for` with drain or down: a duration the admin API turns into an expiry. */
function stateDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const value = parseDuration(text)
  if (value === null || value < 1 || value > MAX_EXPIRY_SECONDS) {
    throw new UsageError(`--for: expected a duration from 1s to 7d such as 600, 90s, 10m, 2h or 1d, got "${text}"`)
  }
  return value
}

/** `--wait-sessions SEC`: only after a drain that is waited for. */
function parseWaitSessions(command: string, options: Record<string, unknown>, drainFirst: boolean): number | null {
  const text = options['wait-sessions'] as string | undefined
  if (text === undefined) return null
  if (!((command === 'drain' && options.wait) || drainFirst))
    throw new UsageError('--wait-sessions goes with drain --wait or down --drain-first --wait')
  if (options.json) throw new UsageError('--wait-sessions goes without --json')
  const value = parseDuration(text)
  if (value === null || value < 1 || value > MAX_EXPIRY_SECONDS)
    throw new UsageError(`--wait-sessions: expected a duration from 1s to 7d such as 600, 10m or 2h, got "${text}"`)
  return value
}

/** `down --drain-first`: the drain's wait limits (its own timeout, and --force-after); null without the flag. */
function parseDrainFirst(command: string, options: Record<string, unknown>): WaitLimits | null {
  if (!options['drain-first']) {
    if (options['drain-timeout'] !== undefined) throw new UsageError('--drain-timeout goes with --drain-first')
    return null
  }
  if (command !== 'down') throw new UsageError(`--drain-first goes with down, not ${command}`)
  if (!options.wait) throw new UsageError('--drain-first goes with --wait: the drain must be confirmed before down')
  if (options.json) throw new UsageError('--json goes without --drain-first: run drain --wait --json, then down --wait --json')
  return parseWait('drain', { wait: true, timeout: options['drain-timeout'], 'force-after': options['force-after'] }, '--drain-timeout')
}

function parseWait(command: string, options: Record<string, unknown>, timeoutFlag = '--timeout'): Invocation['wait'] {
  if (!options.wait) {
    for (const flag of ['timeout', 'force-after']) if (options[flag] !== undefined) throw new UsageError(`--${flag} goes with --wait`)
    return null
  }
  if (command === 'status' || command === 'history') throw new UsageError(`--wait goes with ready, drain or down, not ${command}`)
  // The same checks as the agent's wait query, so a bad value is refused before the state changes.
  const query = asUsage(
    () =>
      validateRequest<WaitQuery>(
        WaitQuerySchema,
        { for: goalOf(command as AdminState), timeout: options.timeout, 'force-after': options['force-after'] },
        'query',
      ),
    { timeout: timeoutFlag },
  )
  const forceAfter = query['force-after'] ?? 0
  if (options['force-after'] !== undefined && forceAfter === 0) throw new UsageError('--force-after: expected more than 0 seconds')
  return { timeout: query.timeout ?? DEFAULT_WAIT_TIMEOUT_S, forceAfter }
}

async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'canary') return runCanary(argv.slice(1))
  if (argv[0] === 'tomcat') return runTomcat(argv.slice(1))
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
    process.stdout.write(invocation.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status))
    return EXIT.OK
  }
  if (command === 'history') {
    const tail = await callAgent<AuditTail>(
      endpoint,
      token,
      'GET',
      `/v1/history${invocation.historyQuery ?? ''}`,
      undefined,
      REQUEST_TIMEOUT_MS,
    )
    process.stdout.write(invocation.json ? `${JSON.stringify(tail, null, 2)}\n` : describeHistory(tail))
    return EXIT.OK
  }
  if (command === 'weight') {
    const { method, body } = weightRequest(invocation.weight as WeightCommand, { reason: invocation.reason, by: invocation.by })
    const after = await callAgent<AgentStatus>(endpoint, token, method, '/v1/weight', body, REQUEST_TIMEOUT_MS)
    process.stdout.write(
      invocation.json ? `${JSON.stringify(after, null, 2)}\n` : `${describeWeightChange(invocation.weight as WeightCommand, after)}\n`,
    )
    return EXIT.OK
  }
  if (invocation.drainFirst) {
    // The drain is confirmed (or forced) before down: a failed drain leaves the server drained, not down.
    const drained = await setState(invocation, 'drain', invocation.drainFirst, undefined)
    if (drained !== EXIT.OK) return drained
    if (invocation.waitSessions !== null) await waitSessions(invocation.endpoint, invocation.token, invocation.waitSessions)
  }
  const set = await setState(invocation, command, invocation.wait, invocation.forSeconds)
  if (set === EXIT.OK && command === 'drain' && invocation.waitSessions !== null)
    await waitSessions(invocation.endpoint, invocation.token, invocation.waitSessions)
  return set
}

/** Sets the admin state, says what changed, and with `wait` waits for the load balancers. */
async function setState(
  invocation: Invocation,
  command: AdminState,
  wait: WaitLimits | null,
  forSeconds: number | undefined,
): Promise<number> {
  const { endpoint, token } = invocation
  const before = await callAgent<AgentStatus>(endpoint, token, 'GET', '/v1/status', undefined, REQUEST_TIMEOUT_MS)
  const body = { state: command, reason: invocation.reason, by: invocation.by, for: forSeconds }
  const after = await callAgent<AgentStatus>(endpoint, token, 'PUT', '/v1/state', body, REQUEST_TIMEOUT_MS)
  if (invocation.json) {
    // With --wait, one document at the end: {"status": ..., "wait": <the wait's last event>}.
    if (wait) return waitFor(invocation, command, wait, after)
    process.stdout.write(`${JSON.stringify(after, null, 2)}\n`)
    return EXIT.OK
  }
  const was = before.admin?.state ?? 'unknown'
  const lines = [
    `${command}: admin state ${was === command ? 'stays' : 'is now'} ${command}${was === command ? '' : ` (was ${was})`}; the check answers ${HTTP_STATUS_OF[command]} when nothing overrides it`,
  ]
  if (after.admin?.until) lines.push(`until ${after.admin.until}: then the agent sets ready by itself`)
  if (after.effective.state !== command)
    lines.push(`note: the agent answers ${after.effective.state} (HTTP ${after.effective.httpStatus}) because ${after.effective.why}`)
  process.stdout.write(`${lines.join('\n')}\n`)
  return wait ? waitFor(invocation, command, wait, after) : EXIT.OK
}

/** Streams `/v1/wait` for the state just set, showing progress, and turns its outcome into an exit code. */
async function waitFor(invocation: Invocation, command: AdminState, wait: WaitLimits, status: AgentStatus): Promise<number> {
  const goal = goalOf(command)
  const tty = !invocation.json && process.stdout.isTTY === true
  const query = `for=${goal}&timeout=${wait.timeout}${wait.forceAfter ? `&force-after=${wait.forceAfter}` : ''}&progress=${tty ? 0.5 : 1}`
  const limits = [
    wait.timeout ? ` (timeout ${wait.timeout}s` : ' (no timeout',
    wait.forceAfter ? `, going on after ${wait.forceAfter}s)` : ')',
  ].join('')
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
