import { setTimeout as delay } from 'node:timers/promises'
import { parseCommandLine } from '../config/args.js'
import { loadClientConfig } from '../config/load.js'
import { CLIENT_SETTINGS } from '../config/schema.js'
import type { Traffic } from '../protocol/traffic.js'
import { agentTarget } from './agent-target.js'
import { callAgent } from './admin-client.js'
import { judge, millis, percent, windowOf, type CanaryJudgement, type CanaryLimits } from './canary-judge.js'
import { EXIT, UsageError } from './exit-codes.js'
import { parseDuration } from './weight-command.js'

export const CANARY_HELP = `Usage: agentctl canary --for DURATION [--max-5xx-ratio R] [--max-p99-ms MS] [--min-requests N]

Watches what Tomcat answers (the agent's access log counts, GET /v1/traffic on the admin API)
for DURATION from now and holds it to fixed limits. Fails as soon as a limit is broken with at
least --min-requests seen; passes at the end with at least --min-requests and no limit broken.
Progress goes to standard error; one summary line, starting "canary:", to standard output.

Options:
  --for DURATION         how long to watch: 90, 90s, 10m (required)
  --max-5xx-ratio R      largest share of 5xx answers, 0 to 1 (default 0.01)
  --max-p99-ms MS        largest p99 of Tomcat's time taken, in ms (default 1000)
  --min-requests N       fewer requests in the watch fail the gate (default 100)
  --interval-ms MS       how often the agent is read (default 1000)
  --agent URL, --token-file PATH, --config FILE   the agent, as for the other commands

Exit codes: 0 passed; 6 failed (a limit, too few requests, or Tomcat restarted meanwhile);
2 bad usage or the agent does not follow an access log; 3 agent unreachable; 4 refused; 5 failed.
`

const REQUEST_TIMEOUT_MS = 10_000

function number(name: string, text: unknown, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected a number from ${min} to ${max}, got ${JSON.stringify(text)}`)
  }
  return value
}

function progressLine(j: CanaryJudgement, elapsedS: number, totalS: number, limits: CanaryLimits): string {
  const w = j.window
  return `canary: watching ${Math.round(elapsedS)}s of ${totalS}s (${Math.max(0, Math.round(totalS - elapsedS))}s left): ${w.requests} requests (need ${limits.minRequests}), 5xx ${percent(w.ratio5xx)} (limit ${percent(limits.max5xxRatio)}), p99 ${millis(w.p99Ms)} (limit ${limits.maxP99Ms} ms)\n`
}

export function summaryLine(j: CanaryJudgement, elapsedS: number, limits: CanaryLimits): string {
  const w = j.window
  const figures = `${w.requests} requests, ${w.errors5xx} 5xx (${percent(w.ratio5xx)}, limit ${percent(limits.max5xxRatio)}), p99 ${millis(w.p99Ms)} (limit ${limits.maxP99Ms} ms), ${elapsedS.toFixed(1)}s`
  return j.verdict === 'fail' ? `canary: fail ${j.limit}: ${j.why}; ${figures}\n` : `canary: pass: ${figures}\n`
}

/** `agentctl canary ...`: exit code as in CANARY_HELP. */
export async function runCanary(argv: string[]): Promise<number> {
  const cli = parseCommandLine(
    argv,
    {
      help: { type: 'boolean', short: 'h' },
      config: { type: 'string' },
      for: { type: 'string' },
      'max-5xx-ratio': { type: 'string' },
      'max-p99-ms': { type: 'string' },
      'min-requests': { type: 'string' },
      'interval-ms': { type: 'string' },
    },
    CLIENT_SETTINGS,
  )
  if (cli.options.help) {
    process.stdout.write(CANARY_HELP)
    return EXIT.OK
  }
  if (cli.positionals.length > 0) throw new UsageError(`unexpected argument "${cli.positionals[0]}" after canary`)
  const forText = cli.options.for as string | undefined
  const totalS = forText === undefined ? null : parseDuration(forText)
  if (totalS === null || totalS < 1)
    throw new UsageError(`--for: expected a duration such as 90, 90s or 10m, got ${JSON.stringify(forText ?? '')}`)
  const limits: CanaryLimits = {
    max5xxRatio: number('max-5xx-ratio', cli.options['max-5xx-ratio'], 0.01, 0, 1),
    maxP99Ms: number('max-p99-ms', cli.options['max-p99-ms'], 1000, 0, 3_600_000),
    minRequests: Math.ceil(number('min-requests', cli.options['min-requests'], 100, 0, 1e12)),
  }
  const intervalMs = number('interval-ms', cli.options['interval-ms'], 1000, 50, 60_000)
  const config = loadClientConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  const { endpoint, token } = agentTarget(config)
  const read = () => callAgent<Traffic>(endpoint, token, 'GET', '/v1/traffic', undefined, REQUEST_TIMEOUT_MS)

  const start = await read()
  if (!start.enabled)
    throw new UsageError('the agent does not follow an access log (set its --access-log-file): nothing to judge the canary by')
  const startedAt = Date.now()
  const endAt = startedAt + totalS * 1000
  const progressEveryMs = Math.max(intervalMs, 5000)
  let lastProgress = startedAt
  for (;;) {
    const now = Date.now()
    await delay(Math.max(0, Math.min(intervalMs, endAt - now)))
    const finished = Date.now() >= endAt
    const judgement = judge(windowOf(start, await read()), limits, finished)
    const elapsedS = (Date.now() - startedAt) / 1000
    if (judgement.verdict !== 'watching') {
      process.stdout.write(summaryLine(judgement, elapsedS, limits))
      return judgement.verdict === 'pass' ? EXIT.OK : EXIT.CANARY_FAILED
    }
    if (Date.now() - lastProgress >= progressEveryMs) {
      lastProgress = Date.now()
      process.stderr.write(progressLine(judgement, elapsedS, totalS, limits))
    }
  }
}
