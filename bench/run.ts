import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../agent/src/package-info.js'
import { commandVersion, newContext, runCleanups, type BenchContext } from './lib.js'
import { renderResults } from './report.js'

type Part = (ctx: BenchContext) => Promise<Record<string, unknown>>

const PARTS: Record<string, () => Promise<Part>> = {
  health: async () => (await import('./parts/health.js')).run,
  reaction: async () => (await import('./parts/reaction.js')).run,
  footprint: async () => (await import('./parts/footprint.js')).run,
  scale: async () => (await import('./parts/scale.js')).run,
  roll: async () => (await import('./parts/roll.js')).run,
  peer: async () => (await import('./parts/peer.js')).run,
  socket: async () => (await import('./parts/socket.js')).run,
  accesslog: async () => (await import('./parts/accesslog.js')).run,
  flood: async () => (await import('./parts/flood.js')).run,
}

const HELP = `Usage: npm run bench [-- PART ...]
       npm run bench -- --report    write bench/RESULTS.md again from results.json and
                                    FINDINGS.md, measuring nothing

Parts: ${Object.keys(PARTS).join(', ')} (default: all). Each part's figures replace its own
keys in bench/results.json; bench/RESULTS.md is written again from all of them.
Needs: npm run build (npm run bench does it); wrk, Debian's ansible (peer), and haproxy and
tomcat10 (roll, peer): sudo scripts/install-system-deps.sh --bench.
`

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP)
    return 0
  }
  const resultsFile = join(PACKAGE_ROOT, 'bench/results.json')
  if (argv.includes('--report')) {
    if (argv.length > 1) {
      process.stderr.write('bench: --report goes alone: it measures nothing\n')
      return 2
    }
    if (!existsSync(resultsFile)) {
      process.stderr.write(`bench: no ${resultsFile} to report from: run npm run bench first\n`)
      return 1
    }
    writeReport(JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>)
    return 0
  }
  const unknown = argv.filter((p) => !(p in PARTS))
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown part "${unknown[0]}" (parts: ${Object.keys(PARTS).join(', ')})\n`)
    return 2
  }
  const selected = argv.length > 0 ? argv : Object.keys(PARTS)
  const results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {}
  results.machine = {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    agent: PACKAGE_VERSION,
    haproxy: commandVersion('haproxy', ['-v']),
    wrk: commandVersion('wrk', ['--version']),
  }
  let failed = 0
  let current: BenchContext | null = null
  // Interrupted: the running part's processes (Tomcats, agents, HAProxy, playbook) go too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}: cleaning up\n`)
      void (current ? runCleanups(current) : Promise.resolve()).finally(() => process.exit(130))
    })
  }
  for (const name of selected) {
    const ctx = newContext()
    current = ctx
    const started = Date.now()
    // Other work on the machine skews every figure: the 1-minute load average before and after says how much.
    const loadBefore = loadavg()[0] as number
    try {
      process.stderr.write(`bench: ${name}...\n`)
      const figures = await (await (PARTS[name] as () => Promise<Part>)())(ctx)
      results[name] = {
        ...figures,
        measured_at: new Date().toISOString(),
        took_s: Math.round((Date.now() - started) / 1000),
        load_avg_1m: [Math.round(loadBefore * 100) / 100, Math.round((loadavg()[0] as number) * 100) / 100],
      }
    } catch (err) {
      failed++
      process.stderr.write(`bench: ${name} failed: ${(err as Error).stack ?? String(err)}\n`)
    } finally {
      await runCleanups(ctx)
      current = null
    }
  }
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`)
  writeReport(results)
  return failed > 0 ? 1 : 0
}

function writeReport(results: Record<string, unknown>): void {
  const markdown = renderResults(results, join(PACKAGE_ROOT, 'bench/FINDINGS.md'))
  writeFileSync(join(PACKAGE_ROOT, 'bench/RESULTS.md'), markdown)
  process.stdout.write(markdown)
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code))
