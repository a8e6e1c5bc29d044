import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { AccessTraffic } from '../../agent/src/tomcat/access-traffic.js'
import { ACCESS_LOG_PATTERN } from '../../agent/test/helpers/tomcat.js'
import { median, round, until, type BenchContext } from '../lib.js'

const LINES = 200_000
const RUNS = 3
/** What the end-to-end stack's load sends one Tomcat (about 42 requests a second in the canary proof). */
const E2E_REQUESTS_PER_S = 50

const line = (i: number) =>
  `127.0.0.1 [30/Nov/2026:05:00:01 +0000] "GET /app/x HTTP/1.1" ${i % 20 === 0 ? 500 : 200} 12 ${1000 + (i % 5000)} "wrk"\n`

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return used.user + used.system
}

/** The agent's follower: read in bounded steps, parsed against the pattern, counted per deploy and status class. */
async function followerMicrosPerLine(ctx: BenchContext, run: number, text: string): Promise<number> {
  const dir = join(ctx.tmp, `follow-${run}`)
  const { mkdirSync } = await import('node:fs')
  mkdirSync(dir, { recursive: true })
  const log = join(dir, 'access.log')
  writeFileSync(log, '')
  const registry = new Registry()
  const access = new AccessTraffic(
    { accessLogFile: log, accessLogPattern: ACCESS_LOG_PATTERN, accessLogPositionFile: join(dir, 'position') },
    registry,
    pino({ level: 'silent' }),
    new Date(),
  )
  await access.start()
  try {
    appendFileSync(log, text)
    const before = process.cpuUsage()
    await access.catchUp()
    const counted = async () => {
      const metric = await registry.getSingleMetric('health_agent_access_responses_total')?.get()
      return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0)
    }
    await until('every line counted', async () => (await counted()) === LINES, 120_000, 5)
    return cpuMicros(before) / LINES
  } finally {
    await access.close()
  }
}

/** The floor: the same bytes read in one go and split into lines, with one regular expression per line for status and time. */
function baselineMicrosPerLine(path: string): number {
  const before = process.cpuUsage()
  const fields = /" (\d{3}) \S+ (\d+) /
  let counted = 0
  for (const l of readFileSync(path, 'utf8').split('\n')) if (fields.test(l)) counted++
  if (counted !== LINES) throw new Error(`baseline counted ${counted} lines, expected ${LINES}`)
  return cpuMicros(before) / LINES
}

/** The CPU of following Tomcat's access log (the canary gate reads it), against the floor of reading and matching the same lines. */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  const text = Array.from({ length: LINES }, (_, i) => line(i)).join('')
  const plain = join(ctx.tmp, 'plain.log')
  writeFileSync(plain, text)
  const agent: number[] = []
  const baseline: number[] = []
  for (let i = 0; i < RUNS; i++) {
    ctx.log(`accesslog: run ${i + 1} of ${RUNS}, ${LINES} lines`)
    baseline.push(baselineMicrosPerLine(plain))
    agent.push(await followerMicrosPerLine(ctx, i, text))
  }
  const agentUs = median(agent)
  const baselineUs = median(baseline)
  return {
    lines: LINES,
    bytes: text.length,
    cpu_us_per_line: round(agentUs, 2),
    baseline_cpu_us_per_line: round(baselineUs, 2),
    ratio: round(agentUs / baselineUs, 2),
    runs_us_per_line: agent.map((v) => round(v, 2)),
    e2e_requests_per_s: E2E_REQUESTS_PER_S,
    core_pct_at_e2e_load: round((agentUs * E2E_REQUESTS_PER_S) / 10_000, 3),
    core_pct_at_1000_per_s: round((agentUs * 1000) / 10_000, 3),
  }
}
