import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { ansibleEnv, ANSIBLE_DIR } from '../helpers/ansible.js'
import { AGENTCTL_BIN, requireBuilt, agentctl } from '../helpers/cli.js'
import { spawnAgent } from '../helpers/process.js'
import { requireBinary } from '../helpers/system.js'

/**
 * ansible/library/tomcat_health_agent.py, run by Debian's ansible against a real agent (the
 * built binary): `changed` only when the admin state changed, the agent's JSON in the result,
 * check mode that changes nothing, a wait that is not confirmed fails and says so.
 */

interface ModuleResult {
  host: string
  outcome: string
  result: Record<string, unknown> & {
    changed?: boolean
    msg?: string
    state?: string
    previous_state?: string
    status?: { admin?: { state?: string } }
  }
}

function runModule(dir: string, args: Record<string, unknown>, extra: string[] = []): Promise<ModuleResult> {
  requireBinary('ansible')
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ansible',
      [
        'localhost',
        '-i',
        'localhost,',
        '-c',
        'local',
        '-o',
        '-M',
        join(ANSIBLE_DIR, 'library'),
        '-m',
        'tomcat_health_agent',
        '-a',
        JSON.stringify(args),
        ...extra,
      ],
      {
        env: { ...ansibleEnv(dir), ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.on('error', reject)
    child.on('close', () => {
      // -o: "localhost | CHANGED => {...}" or "localhost | FAILED! => {...}"
      const match = /^(\S+) \| ([A-Z!]+) => (\{.*\})\s*$/m.exec(out)
      if (!match) return reject(new Error(`unexpected ansible output:\n${out}`))
      resolve({ host: match[1] as string, outcome: match[2] as string, result: JSON.parse(match[3] as string) as ModuleResult['result'] })
    })
  })
}

t.test('tomcat_health_agent module: honest changed, JSON result, check mode, failed wait', async (t) => {
  const dir = tempDir(t, 'health-agent-module-')
  requireBuilt(AGENTCTL_BIN)
  // lb1 is expected and never checks: a wait cannot be confirmed (with none expected, a host that
  // no load balancer checks confirms at once once the agent has been up a stale window).
  const agent = await spawnAgent(t, ['--data-dir', join(dir, 'data'), '--expect-lb', 'lb1'])
  const common = { install_dir: PACKAGE_ROOT, data_dir: join(dir, 'data'), agent: agent.adminUrl, reason: 'module test' }
  const adminState = async () => {
    const status = await agentctl(['status', '--json', '--agent', agent.adminUrl, '--token-file', join(dir, 'data/admin-token')])
    return (JSON.parse(status.stdout) as { admin: { state: string } }).admin.state
  }

  const drain = await runModule(dir, { ...common, state: 'drain' })
  t.equal(drain.outcome, 'CHANGED', JSON.stringify(drain.result))
  t.match(
    drain.result,
    { changed: true, previous_state: 'ready', state: 'drain', status: { admin: { state: 'drain' } } },
    "the agent's JSON is in the result",
  )
  t.equal(await adminState(), 'drain')

  const again = await runModule(dir, { ...common, state: 'drain' })
  t.equal(again.outcome, 'SUCCESS')
  t.match(again.result, { changed: false, previous_state: 'drain', state: 'drain' }, 'the same state again is no change')

  const checked = await runModule(dir, { ...common, state: 'ready' }, ['--check'])
  t.match(checked.result, { changed: true, state: 'drain' }, 'check mode says it would change')
  t.equal(await adminState(), 'drain', 'check mode changed nothing')

  const ready = await runModule(dir, { ...common, state: 'ready' })
  t.match(ready.result, { changed: true, previous_state: 'drain', state: 'ready' })
  t.equal(await adminState(), 'ready')

  // The expected lb1 never checks: the wait is not confirmed.
  const waited = await runModule(dir, { ...common, state: 'down', wait: true, timeout: 1 })
  t.equal(waited.outcome, 'FAILED!')
  t.match(waited.result.msg, /agentctl down failed \(exit 1, not confirmed in time \(the state stays set\)\)/)
  t.match(waited.result, { changed: true, state: 'down', wait: { outcome: 'timeout' } })
  t.equal(await adminState(), 'down', 'the state stays set')

  const unreachable = await runModule(dir, { ...common, agent: 'http://127.0.0.1:1', state: 'ready' })
  t.equal(unreachable.outcome, 'FAILED!')
  t.match(unreachable.result.msg, /agentctl status failed \(exit 3, agent unreachable\)/)

  const bad = await runModule(dir, { ...common, state: 'maintenance' })
  t.equal(bad.outcome, 'FAILED!')
  t.match(bad.result.msg, /value of state must be one of: ready, drain, down/)
})
