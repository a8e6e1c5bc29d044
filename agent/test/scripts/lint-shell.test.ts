import { spawnSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

/**
 * `npm test` from an unpacked source tarball: scripts/lint-shell.sh finds the shell scripts by
 * itself, with no .git beside it, and lints the same ones as in a git checkout.
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

t.test('the shell lint runs from an unpacked source tarball (no .git) and lints the same scripts', async (t) => {
  const dir = tempDir(t, 'health-agent-tarball-')
  const tree = join(dir, 'tomcat-health-agent-0.1.0')
  cpSync(PACKAGE_ROOT, tree, {
    recursive: true,
    filter: (source) => !NOT_IN_A_TARBALL.has(relative(PACKAGE_ROOT, source).split('/')[0] ?? ''),
  })
  const inCheckout = lint(PACKAGE_ROOT)
  t.equal(inCheckout.status, 0, `in the checkout: ${inCheckout.stderr}`)
  const inTarball = lint(tree)
  t.equal(inTarball.status, 0, `from the tarball: ${inTarball.stderr}${inTarball.stdout.slice(0, 2000)}`)
  const count = (output: string) => /lint-shell: (\d+) scripts clean/.exec(output)?.[1]
  t.ok(count(inCheckout.stdout), `the checkout says how many scripts: ${inCheckout.stdout}`)
  t.equal(count(inTarball.stdout), count(inCheckout.stdout), 'the same number of scripts in both')
  t.notMatch(inTarball.stderr, /not a git repository/)
})
