import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'

/**
 * Runs one of packaging/*\/build.mjs and returns what it built (the path it prints last). Test
 * files run in parallel and the builds share dist/sea: one build at a time (flock on .cache/).
 */
export function build(script: 'sea' | 'deb', args: string[] = []): string {
  mkdirSync(join(PACKAGE_ROOT, '.cache'), { recursive: true })
  const lock = join(PACKAGE_ROOT, '.cache/build.lock')
  const result = spawnSync('flock', [lock, process.execPath, join(PACKAGE_ROOT, 'packaging', script, 'build.mjs'), ...args], {
    cwd: PACKAGE_ROOT,
    encoding: 'utf8',
    timeout: 600_000,
  })
  if (result.status !== 0)
    throw new Error(`packaging/${script}/build.mjs failed (${result.status ?? result.signal}):\n${result.stderr}${result.stdout}`)
  const built = /^(\/\S+) \([\d.]+ s\)$/m.exec(result.stdout)
  if (!built) throw new Error(`packaging/${script}/build.mjs printed no path:\n${result.stdout}`)
  return built[1] as string
}
