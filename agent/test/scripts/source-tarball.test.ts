import { spawnSync } from 'node:child_process'
import { cpSync, symlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import t, { type Test } from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

/**
 * `npm test` from an unpacked source tarball (no .git): scripts/lint-shell.sh finds the shell
 * scripts by itself and lints the same ones as in a git checkout, and the tree counts as a
 * development checkout (its var/, nothing from /etc), as the config tests expect.
 */

// What a source tarball leaves out: the git folder and everything npm ci and the build make.
const NOT_IN_A_TARBALL = new Set(['.git', 'node_modules', 'dist', '.tap', 'coverage', 'var', '.cache'])

const lint = (cwd: string) =>
  spawnSync('bash', [join(cwd, 'scripts/lint-shell.sh')], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
    timeout: 120_000,
  })

function unpackedTarball(t: Test): string {
  const dir = tempDir(t, 'health-agent-tarball-')
  const tree = join(dir, 'tomcat-health-agent-0.1.0')
  cpSync(PACKAGE_ROOT, tree, {
    recursive: true,
    filter: (source) => !NOT_IN_A_TARBALL.has(relative(PACKAGE_ROOT, source).split('/')[0] ?? ''),
  })
  return tree
}

t.test('the shell lint runs from an unpacked source tarball (no .git) and lints the same scripts', async (t) => {
  const tree = unpackedTarball(t)
  const inCheckout = lint(PACKAGE_ROOT)
  t.equal(inCheckout.status, 0, `in the checkout: ${inCheckout.stderr}`)
  const inTarball = lint(tree)
  t.equal(inTarball.status, 0, `from the tarball: ${inTarball.stderr}${inTarball.stdout.slice(0, 2000)}`)
  const count = (output: string) => /lint-shell: (\d+) scripts clean/.exec(output)?.[1]
  t.ok(count(inCheckout.stdout), `the checkout says how many scripts: ${inCheckout.stdout}`)
  t.equal(count(inTarball.stdout), count(inCheckout.stdout), 'the same number of scripts in both')
  t.notMatch(inTarball.stderr, /not a git repository/)
})

t.test('an unpacked source tarball is a development checkout: the config tests pass there', async (t) => {
  const tree = unpackedTarball(t)
  // What npm ci would put there.
  symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(tree, 'node_modules'))
  const tests = ['agent/test/config/install-paths.test.ts', 'agent/test/config/load.test.ts']
  const run = spawnSync(join(tree, 'node_modules/.bin/tap'), ['--reporter=terse', ...tests], {
    cwd: tree,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    timeout: 300_000,
  })
  const output = `${run.stdout.slice(-3000)}${run.stderr.slice(-2000)}`
  t.equal(run.status, 0, run.status === 0 ? `${tests.join(' ')} pass in the tarball's tree` : output)
})
