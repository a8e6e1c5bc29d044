import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { runDeployScript } from '../helpers/cli.js'
import { describeFailures, type LoadReport } from '../helpers/load.js'
import { describeStickyFailures, StickyLoad, type StickyReport } from '../helpers/sticky-load.js'
import { waitFor } from '../helpers/wait.js'
import { stackLoad, startStack, writeAppWar, type Stack, type StackHost } from './stack.js'

/**
 * Sticky users through a roll, against the real thing on the defaults: Debian's HAProxy with the
 * recommended (sticky: cookie SRV insert) backend in front of three Tomcat 10 instances, each with
 * its agent and Tomcat's manager. Beside the cookie-less load, 20 virtual users with their own
 * cookie jars count the requests of their session; a count that starts over is a lost session.
 *   1. The restart roll (deploy-war: drain, down, stop, swap, start, ready), the control: no
 *      request fails, but the users of each restarted Tomcat lose their sessions (M > 0).
 *   2. The parallel roll (rolling-deploy --parallel): no request fails and no session is lost.
 *   3. A new version that fails its warm-up on one host: rolled back, nothing restarted, no
 *      request failed, no session lost.
 * Costs about 2-3 minutes (three Tomcats, two rolls of three hosts, one rollback).
 */

const USERS = 20
const DEPLOY_ARGS = ['--drain-timeout', '60', '--down-timeout', '30', '--ready-timeout', '120']

interface Phase {
  sticky: StickyReport
  load: LoadReport
  seconds: number
}

/** Runs `roll` under both loads, from the moment every sticky user has a session until it ends. */
async function underLoad(stack: Stack, versions: string[], roll: () => Promise<void>): Promise<Phase> {
  const sticky = new StickyLoad({ url: `${stack.frontendUrl}session.jsp`, users: USERS, maxSeconds: 400 })
  const load = stackLoad(stack)
  sticky.start()
  load.start(versions)
  await waitFor('every sticky user to have a session', () => sticky.allSeated, { timeoutMs: 30_000 })
  const started = Date.now()
  await roll()
  const seconds = (Date.now() - started) / 1000
  return { sticky: await sticky.stop(), load: await load.stop(), seconds }
}

function hostArgs(host: StackHost): string[] {
  return ['--context', 'app', '--agent', host.agent.adminUrl, '--token-file', host.tokenFile]
}

async function deploy(t: Test, host: StackHost, args: string[], expectCode = 0): Promise<string> {
  const run = await runDeployScript('deploy-war', [...args, ...hostArgs(host), ...DEPLOY_ARGS], {}, 300_000)
  const what = `${host.name}: deploy-war ${args[0] === '--parallel' ? '--parallel ' : ''}exit ${expectCode}`
  t.equal(run.code, expectCode, run.code === expectCode ? what : `${what}\n${run.stderr}`)
  return run.stderr
}

/** scripts/rolling-deploy --parallel, to completion. */
function rollingDeployParallel(
  inventory: string,
  war: string,
  args: string[],
  deployWarArgs: string[],
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'bash',
      [join(PACKAGE_ROOT, 'scripts/rolling-deploy'), '--parallel', ...args, '--inventory', inventory, '--war', war, '--', ...deployWarArgs],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      },
    )
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

function line(name: string, p: Phase): string {
  return `${name} requests=${p.sticky.requests} failed=${p.sticky.failed} users=${p.sticky.users} lost=${p.sticky.lost} seconds=${p.seconds.toFixed(1)}`
}

t.test('sticky users keep their sessions through a parallel roll; the restart roll, the control, loses them', async (t) => {
  const dir = tempDir(t, 'health-agent-sessions-')
  const stack = await startStack(t, dir, { war: writeAppWar(dir, 'v1'), manager: true })
  const managerArgs = (host: StackHost) => [
    '--manager-url',
    host.manager?.url ?? '',
    '--manager-credentials-file',
    host.manager?.credentialsFile ?? '',
  ]

  // 1. The control: the restart roll to v2, one host after the other.
  const v2 = writeAppWar(dir, 'v2')
  const restart = await underLoad(stack, ['v1', 'v2'], async () => {
    for (const host of stack.hosts) {
      await deploy(t, host, [
        '--war',
        v2,
        '--catalina-base',
        host.tomcat.base,
        '--start-cmd',
        host.startScript,
        '--stop-cmd',
        host.stopScript,
      ])
    }
  })

  // 2. The parallel roll to v3 (Tomcat version 003, beside the app v2 left), one host after the
  //    other, by rolling-deploy --parallel.
  const v3 = writeAppWar(dir, 'v3')
  const inventory = join(dir, 'inventory-parallel')
  writeFileSync(
    inventory,
    stack.hosts
      .map(
        (h) =>
          `${h.name} context=app agent=${h.agent.adminUrl} token-file=${h.tokenFile} ${managerArgs(h)
            .join(' ')
            .replace(/--(manager-\S+) /g, '$1=')}\n`,
      )
      .join(''),
  )
  let roll = { code: null as number | null, output: '' }
  const parallel = await underLoad(stack, ['v2', 'v3'], async () => {
    roll = await rollingDeployParallel(inventory, v3, ['--version', '003'], [...DEPLOY_ARGS, '--no-retire'])
  })
  t.equal(roll.code, 0, roll.code === 0 ? 'rolling-deploy --parallel: every host deployed' : roll.output)
  t.match(roll.output, /\[1\/3 t1\] deploy-war: deployed \/app##003 beside the previous version, no restart/)
  t.same(await Promise.all(stack.hosts.map((h) => stack.versionOf(h))), ['v3', 'v3', 'v3'], 'new users get v3 everywhere')

  // 3. A version that fails its warm-up (its page answers 500) on the first host: rolled back.
  const first = stack.hosts[0] as StackHost
  const bad = writeAppWar(dir, 'v4', { failEvery: 1 })
  let rollback = ''
  const failedWarmup = await underLoad(stack, ['v3'], async () => {
    rollback = await deploy(t, first, ['--parallel', '--war', bad, '--version', '004', '--no-retire', ...managerArgs(first)], 3)
  })
  t.match(rollback, /\/app##004 failed its warm-up; the previous version serves, \/app##004 is undeployed/)

  const counters = await stack.backendCounters()
  for (const [name, phase] of [
    ['restart', restart],
    ['parallel', parallel],
    ['rollback', failedWarmup],
  ] as const) {
    t.equal(phase.load.failed, 0, `${name}: no cookie-less request failed\n${describeFailures(phase.load)}`)
    t.equal(phase.sticky.failed, 0, `${name}: no sticky request failed\n${describeStickyFailures(phase.sticky)}`)
    t.equal(phase.load.unexpectedVersions, 0, `${name}: only the versions of the roll were served`)
  }
  t.equal(parallel.sticky.lost, 0, 'the parallel roll lost no session')
  t.equal(failedWarmup.sticky.lost, 0, 'the rollback lost no session')
  t.ok(restart.sticky.lost > 0, `the restart roll, the control, lost sessions (${restart.sticky.lost}): the check can fail`)
  t.same({ econ: counters.econ, eresp: counters.eresp }, { econ: 0, eresp: 0 }, 'HAProxy saw no connection or response error')
  process.stderr.write(`sessions: ${line('parallel', parallel)}; ${line('restart', restart)}\n`)
  process.stderr.write(
    `sessions: rollback of a version failing its warm-up: ${line('rollback', failedWarmup)}; cookie-less requests parallel=${parallel.load.requests} restart=${restart.load.requests} rollback=${failedWarmup.load.requests}, 0 failed\n`,
  )
})
