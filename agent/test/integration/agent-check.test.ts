import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { parseShowStat, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js'
import { waitFor } from '../helpers/wait.js'

interface Sample {
  ms: number
  status: string
  weight: number
}

/**
 * Polls `show stat` for be/s1 while `act` runs, until the server is UP at full weight again,
 * and returns the samples seen while it was UP: the ramp as HAProxy applied it.
 */
async function recordRamp(haproxy: RunningHaproxy, act: () => Promise<unknown>): Promise<Sample[]> {
  const started = Date.now()
  const samples: Sample[] = []
  const acted = act()
  await waitFor(
    'be/s1 UP at weight 100 after a ramp',
    async () => {
      const row = await haproxy.serverStat('be', 's1')
      const sample = { ms: Date.now() - started, status: row.status ?? '', weight: Number(row.weight) }
      if (sample.status === 'UP') samples.push(sample)
      return sample.status === 'UP' && sample.weight === 100
    },
    { timeoutMs: 15_000 },
  )
  await acted
  return samples
}

/** The weights in the order HAProxy showed them, each with when it was first seen. */
function changes(samples: Sample[]): string {
  return samples
    .filter((s, i) => i === 0 || s.weight !== samples[i - 1]?.weight)
    .map((s) => `${s.ms} ms: ${s.weight}`)
    .join(', ')
}

function checkRamp(t: Test, samples: Sample[], label: string): void {
  const weights = samples.map((s) => s.weight)
  t.ok(
    weights.every((w, i) => i === 0 || w >= (weights[i - 1] as number)),
    `${label}: the weight never goes down (${changes(samples)})`,
  )
  t.equal(weights.at(-1), 100, `${label}: it reaches the full weight`)
  t.ok((weights[0] as number) <= 33, `${label}: it starts low (${weights[0]})`)
  t.ok(new Set(weights).size > 2, `${label}: more than two distinct weights seen (${[...new Set(weights)].join(', ')})`)
  t.comment(`${label}: weights HAProxy showed, from the command: ${changes(samples)} (${samples.length} samples)`)
}

t.test(
  'fast timers (inter 100 ms): a real HAProxy 2.6 follows the agent check: DOWN (agent), a ramp to UP, DRAIN (agent), MAINT, overrides',
  async (t) => {
    const dir = tempDir(t)
    // A typo in the state file at start: no good state is known, a non-admin cause, so "down".
    writeFileSync(join(dir, 'state'), 'raedy\n')
    const running = await startAgent(
      t,
      { agentCheckListen: '127.0.0.1:0', weightRampStartPercent: '10', weightRampMs: '2000', weightRampSteps: '4' },
      dir,
    )
    const backend = createServer((_, res) => res.end('backend\n'))
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => backend.close(() => resolve())))
    const backendPort = (backend.address() as { port: number }).port
    const port = running.agentCheckPort

    // be/s1 also has a plain TCP check of the backend (status reads UP); agentonly/s1 has only the agent check.
    // agent-send: without it HAProxy 2.6 delays the handshake's last ACK and the agent sees the connection ~200 ms late.
    const haproxy = await startHaproxy(
      t,
      dir,
      `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s

backend be
    server s1 127.0.0.1:${backendPort} check inter 100 rise 1 fall 1 agent-check agent-port ${port} agent-inter 100 agent-send "be/s1\\n" weight 100

backend agentonly
    server s1 127.0.0.1:${backendPort} agent-check agent-port ${port} agent-inter 100 agent-send "agentonly/s1\\n" weight 100`,
    )
    const stat = (backend: string) => haproxy.serverStat(backend, 's1')
    const both = async (expected: Record<string, string>) => {
      const be = await stat('be')
      const other = await stat('agentonly')
      return be.status === expected.be && other.status === expected.agentonly ? { be, other } : false
    }
    const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(dir, 'admin-token') }
    const ctl = async (args: string[]) => {
      const result = await agentctl(args, env)
      t.equal(result.code, 0, `agentctl ${args.join(' ')} exits 0 ${result.stderr}`)
    }
    // The admin API, as agentctl calls it; spawning agentctl for each step costs seconds on a busy 2-core machine.
    const setState = async (state: string, reason?: string) => {
      const response = await running.admin('PUT', '/v1/state', { state, reason })
      t.equal(response.status, 200, `PUT /v1/state ${state}`)
    }

    t.equal(running.agent.core.verdict().cause, 'no-state')
    const down = await waitFor('DOWN (agent) from a non-admin down', () => both({ be: 'DOWN (agent)', agentonly: 'DOWN (agent)' }))
    t.match(down.be.last_agt, /^via agent : down \(no valid admin state/, 'the reason shows as the agent check description')

    const fromDown = await recordRamp(haproxy, () => setState('ready', 'state file fixed'))
    checkRamp(t, fromDown, 'DOWN -> ready')
    t.match(await both({ be: 'UP', agentonly: 'no check' }), {}, 'without "check", an agent-only server reads "no check" when up')
    // Each backend runs its own agent check: the second one may be one agent-inter behind.
    await waitFor('the agent-only server at full weight too', async () => (await stat('agentonly')).weight === '100')
    t.pass('the agent-only server reaches the full weight')

    await setState('drain', 'deploy v42')
    const drained = await waitFor('DRAIN (agent)', () => both({ be: 'DRAIN (agent)', agentonly: 'DRAIN (agent)' }))
    t.equal(drained.be.weight, '10', 'a drained server already carries the weight a return to ready starts at')

    await setState('down', 'restarting tomcat')
    await waitFor('MAINT', () => both({ be: 'MAINT', agentonly: 'MAINT' }))
    t.pass('admin down -> maint -> MAINT')

    const fromMaint = await recordRamp(haproxy, () => setState('ready'))
    checkRamp(t, fromMaint, 'MAINT -> ready')

    await ctl(['weight', '50%', '--for', '10m', '--reason', 'canary'])
    await waitFor('weight 50 from the override', async () => (await stat('be')).weight === '50')
    const cleared = await running.admin('DELETE', '/v1/weight')
    t.equal(cleared.status, 200)
    await waitFor('weight 100 once cleared', async () => (await stat('be')).weight === '100')
    t.pass('an override sets the weight HAProxy uses, clearing it restores it')

    // The rule the snippets document: the agent's "ready" clears a drain set on the runtime API.
    const snapshot = await haproxy.command('set server be/s1 state drain; show stat')
    const row = parseShowStat(snapshot.slice(snapshot.indexOf('# pxname'))).find((r) => r.pxname === 'be' && r.svname === 's1')
    t.equal(row?.status, 'DRAIN (agent)', 'the CLI drain takes effect (HAProxy shows any drain as "(agent)" when an agent check is on)')
    await waitFor('the next agent "ready" undoing the CLI drain', async () => (await stat('be')).status === 'UP')
    t.pass('agent ready clears a CLI drain')

    t.equal(haproxy.process.exitCode, null, 'HAProxy still running')
  },
)
