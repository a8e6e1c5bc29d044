import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LoadGenerator } from '../helpers/load.js'
import type { Teardowns } from '../helpers/system.js'
import { rollingDeploy, stackLoad, startStack, writeAppWar, type Stack } from './stack.js'
import { saveRollSvg } from './roll-svg.js'
import { RollRecorder } from './roll-timeline.js'

/** Where the roll's SVG time line goes (kept after the demo). */
const TIMELINE_FILE = process.env.DEMO_TIMELINE_SVG ?? join(tmpdir(), 'tomcat-health-agent-demo-roll.svg')

/**
 * `npm run demo`: the end-to-end stack for a person to watch. Three real Tomcats behind a real
 * HAProxy, each with its agent; a load runs through HAProxy while rolling-deploy replaces v1
 * with v2, one Tomcat at a time, with live progress and request counters. Everything it starts
 * is stopped on exit and on Ctrl-C.
 */

class Cleanups implements Teardowns {
  private readonly fns: Array<() => unknown> = []
  teardown(fn: () => unknown): void {
    this.fns.push(fn)
  }
  async run(): Promise<void> {
    for (const fn of this.fns.reverse()) {
      try {
        await fn()
      } catch (err) {
        process.stderr.write(`demo: cleanup failed: ${(err as Error).message}\n`)
      }
    }
  }
}

const tty = process.stdout.isTTY === true
const started = Date.now()
const clock = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`

function say(line: string): void {
  process.stdout.write(`${tty ? '\r\x1b[2K' : ''}${clock()}  ${line}\n`)
}

/** Only the lines a person follows: hosts, steps and the load balancers' confirmations. */
function interesting(line: string): boolean {
  return /rolling-deploy:|deploy-war: (step|done|FAILED|error|deployed)|confirmed by|not confirmed/.test(line)
}

async function counters(stack: Stack, load: LoadGenerator): Promise<string> {
  const r = load.report
  const statuses = await Promise.all(stack.hosts.map(async (h) => `${h.name} ${await stack.serverStatus(h).catch(() => '?')}`))
  const versions = Object.entries(r.versions)
    .map(([v, n]) => `${v} ${n}`)
    .join(' ')
  return `requests ${r.requests}  ok ${r.ok}  failed ${r.failed}  | ${versions || 'no answer yet'} | ${statuses.join('  ')}`
}

async function main(): Promise<number> {
  const cleanups = new Cleanups()
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    say(`${signal}: stopping everything the demo started`)
    await cleanups.run()
    process.exit(130)
  }
  process.once('SIGINT', () => void stop('Ctrl-C'))
  process.once('SIGTERM', () => void stop('SIGTERM'))

  const dir = mkdtempSync(join(tmpdir(), 'health-agent-demo-'))
  cleanups.teardown(() => rmSync(dir, { recursive: true, force: true }))
  try {
    say(
      'starting HAProxy (haproxy-snippets/httpchk-backend.cfg), three Tomcat 10 instances serving v1, and an agent beside each on its defaults (about 10 s)',
    )
    const v1 = writeAppWar(dir, 'v1')
    const v2 = writeAppWar(dir, 'v2')
    const stack = await startStack(cleanups, dir, { war: v1 })
    say(`HAProxy on ${stack.frontendUrl}; HAProxy sees every Tomcat UP`)
    for (const h of stack.hosts)
      say(`  ${h.name}: Tomcat on :${h.tomcat.httpPort}, agent check on :${h.agent.healthPort}, admin ${h.agent.adminUrl}`)

    const load = stackLoad(stack, { maxRequests: 1_000_000, maxSeconds: 600 })
    load.start(['v1', 'v2'])
    cleanups.teardown(() => load.stop())
    const ticker = setInterval(
      async () => {
        const line = await counters(stack, load)
        if (tty) process.stdout.write(`\r\x1b[2K${clock()}  ${line}`)
        else say(line)
      },
      tty ? 250 : 2000,
    )
    cleanups.teardown(() => clearInterval(ticker))

    say('rolling-deploy: v1 -> v2, one Tomcat at a time, under load')
    const inventory = stack.writeInventory(join(dir, 'inventory'))
    let inSummary = false
    const recorder = new RollRecorder({ showStat: () => stack.haproxy.showStat(), backend: 'be', frontend: 'fe' })
    recorder.start()
    const roll = await rollingDeploy(inventory, v2, ['--drain-timeout', '60', '--ready-timeout', '120'], (line) => {
      recorder.line(line)
      inSummary ||= line.startsWith('rolling-deploy: summary')
      if (inSummary || interesting(line)) say(line)
    })
    clearInterval(ticker)
    const timeline = await recorder.stop()
    const report = await load.stop()
    const versions = await Promise.all(stack.hosts.map((h) => stack.versionOf(h)))
    const counts = await stack.backendCounters()
    say('')
    say(`summary: rolling-deploy exited ${roll.code} after ${roll.seconds.toFixed(1)} s; Tomcats now serve ${versions.join(', ')}`)
    say(
      `         ${report.requests} requests through HAProxy, ${report.failed} failed; responses by version ${JSON.stringify(report.versions)}`,
    )
    say(`         HAProxy counters: econ=${counts.econ} eresp=${counts.eresp} wretr=${counts.wretr} wredis=${counts.wredis}`)
    for (const failure of report.failures.slice(0, 5))
      say(`         failed at ${failure.at.toFixed(2)}s: ${failure.path}: ${failure.error}`)
    say(`         time line of the roll (SVG): ${saveRollSvg(timeline, TIMELINE_FILE, 'npm run demo: rolling-deploy v1 -> v2 under load')}`)
    const hidden = counts.econ + counts.eresp + counts.wretr + counts.wredis
    return roll.code === 0 && report.failed === 0 && hidden === 0 ? 0 : 1
  } finally {
    if (!stopping) {
      say('stopping everything the demo started')
      await cleanups.run()
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`\ndemo: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
