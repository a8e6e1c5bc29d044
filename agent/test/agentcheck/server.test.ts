import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { agentCheckExchange, inBatches, resetOn } from '../helpers/agent-check.js'
import { AGENT_BIN, requireBuilt } from '../helpers/cli.js'
import { httpRequest } from '../helpers/http.js'
import { freePort } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

const withAgentCheck = { agentCheckListen: '127.0.0.1:0', weightRampMs: '60000', weightRampSteps: '4', weightRampStartPercent: '10' }
/** Socket behaviour only: no ramp, so that every answer is the same line. */
const noRamp = { agentCheckListen: '127.0.0.1:0', weightRampMs: '0' }

async function metricValue(metrics: string, name: string): Promise<number> {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line ? Number(line.split(' ').at(-1)) : NaN
}

t.test('off by default: no listener, the status says so', async (t) => {
  const running = await startAgent(t)
  t.equal(running.agent.agentCheck, null)
  t.match(running.agent.core.status().agentCheck, { listen: null, reply: 'ready up 10% #ramp 0/10', connections: 0 })
})

t.test('answers one line from the current state and closes; what HAProxy sends is read and ignored', async (t) => {
  const running = await startAgent(t, withAgentCheck)
  const port = running.agentCheckPort
  t.equal(await agentCheckExchange(port), 'ready up 10% #ramp 0/4\n', 'ready at start: a ramp (it may be a cold JVM)')
  t.equal(await agentCheckExchange(port, 'be/s1\n'), 'ready up 10% #ramp 0/4\n', 'with agent-send text')
  t.equal(await agentCheckExchange(port, 'x'.repeat(1000)), 'ready up 10% #ramp 0/4\n', 'with a long agent-send')

  await running.admin('PUT', '/v1/state', { state: 'drain', reason: 'deploy v42' })
  t.equal(await agentCheckExchange(port), 'drain 10% #deploy v42\n')
  await running.admin('PUT', '/v1/state', { state: 'down', reason: 'restart' })
  t.equal(await agentCheckExchange(port), 'maint 10% #restart\n')
  await running.admin('PUT', '/v1/state', { state: 'ready' })
  t.match(await agentCheckExchange(port), /^ready up 10% #ramp 0\/4\n$/, 'back to ready: the ramp starts')
  t.match(running.agent.core.status().agentCheck, { listen: `127.0.0.1:${port}`, reply: 'ready up 10% #ramp 0/4' })
})

t.test('resets at every point of the exchange never crash the agent', async (t) => {
  const running = await startAgent(t, noRamp)
  const port = running.agentCheckPort
  const whens = ['connect', 'data', 'sent'] as const
  await inBatches(300, 50, (i) => resetOn(port, whens[i % 3] as (typeof whens)[number]))
  t.equal(await agentCheckExchange(port), 'ready up 100%\n', 'still answering after 300 resets')
  await waitFor('every connection closed', () => running.agent.core.status().agentCheck.connections === 0)
  const metrics = await running.agent.core.metrics.registry.metrics()
  t.equal(await metricValue(metrics, 'health_agent_agent_check_connections'), 0)
  t.comment(
    metrics
      .split('\n')
      .filter((l) => l.startsWith('health_agent_agent_check_connection_problems_total'))
      .join('\n') || 'no connection problems counted',
  )
})

t.test('a client that never reads nor closes is cut off after the timeout; others are served meanwhile', async (t) => {
  const running = await startAgent(t, { ...noRamp, agentCheckTimeoutMs: '300' })
  const port = running.agentCheckPort
  const stuck = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  stuck.on('error', () => undefined)
  stuck.pause() // never reads
  t.teardown(() => stuck.destroy())
  await new Promise((resolve) => stuck.once('connect', resolve))
  const flooder = connect({ host: '127.0.0.1', port })
  flooder.on('error', () => undefined)
  t.teardown(() => flooder.destroy())
  flooder.on('connect', () => flooder.write(Buffer.alloc(64 * 1024, 'x')))

  t.equal(await agentCheckExchange(port), 'ready up 100%\n', 'served while a stuck client is open')
  const started = Date.now()
  await waitFor('the stuck and flooding connections closed by the agent', () => running.agent.core.status().agentCheck.connections === 0, {
    timeoutMs: 5000,
  })
  t.comment(`closed ${Date.now() - started} ms after the check`)
  const metrics = await running.agent.core.metrics.registry.metrics()
  t.match(metrics, /health_agent_agent_check_connection_problems_total\{kind="timeout"\} [1-9]/, 'the timeout is counted')
  t.match(metrics, /health_agent_agent_check_connection_problems_total\{kind="oversized"\} 1/, 'the flood is cut off')
})

t.test('200 connections trickling a byte every 3 s do not keep a real query from its answer', async (t) => {
  // On the defaults: 100 connections at once, each closed 5 s after it was accepted.
  const running = await startAgent(t, noRamp)
  const port = running.agentCheckPort
  const trickling = await inBatches(200, 50, async () => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    socket.on('error', () => undefined)
    t.teardown(() => socket.destroy())
    await new Promise((resolve) => socket.once('connect', resolve))
    return socket
  })
  const drip = setInterval(() => trickling.forEach((s) => s.writable && s.write('x')), 3000)
  t.teardown(() => clearInterval(drip))
  const started = Date.now()
  const answer = await waitFor('a real query answered', async () => (await agentCheckExchange(port, 'be/s1\n')) || undefined, {
    timeoutMs: 20_000,
    intervalMs: 200,
  }).catch((err: Error) => err.message)
  t.comment(`first answer ${Date.now() - started} ms after 200 trickling connections opened`)
  t.equal(answer, 'ready up 100%\n', 'answered once the trickling connections reached their deadline')
})

t.test('connections over the cap are closed at once, and served again once under it', async (t) => {
  const running = await startAgent(t, { ...noRamp, agentCheckMaxconn: '5' })
  const port = running.agentCheckPort
  // Half-open clients: they got their line and the agent's FIN, but keep their side open.
  const holders = await Promise.all(
    Array.from(
      { length: 5 },
      () =>
        new Promise<ReturnType<typeof connect>>((resolve) => {
          const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
          s.on('error', () => undefined)
          s.on('data', () => resolve(s))
        }),
    ),
  )
  t.teardown(() => holders.forEach((s) => s.destroy()))
  t.equal(running.agent.core.status().agentCheck.connections, 5)
  t.equal(await agentCheckExchange(port), '', 'the sixth gets no answer (HAProxy counts that as no news, not a failure)')
  t.match(await running.agent.core.metrics.registry.metrics(), /health_agent_agent_check_connection_problems_total\{kind="dropped"\} 1/)
  holders.forEach((s) => s.end())
  await waitFor('holders closed', () => running.agent.core.status().agentCheck.connections === 0)
  t.equal(await agentCheckExchange(port), 'ready up 100%\n')
})

t.test('the built agent takes 1,000 connections (answers, resets, agent-send) and stays healthy', async (t) => {
  const dir = tempDir(t)
  const [listen, adminListen, agentCheck] = await Promise.all([freePort(), freePort(), freePort()])
  const child = spawn(
    process.execPath,
    [
      requireBuilt(AGENT_BIN),
      '--data-dir',
      dir,
      '--listen',
      `127.0.0.1:${listen}`,
      '--admin-listen',
      `127.0.0.1:${adminListen}`,
      '--agent-check-listen',
      `127.0.0.1:${agentCheck}`,
      '--weight-ramp-ms',
      '0',
      '--log-level',
      'warn',
    ],
    { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  let exit: number | string | null = null
  const exited = new Promise<void>((resolve) => child.on('exit', (code, signal) => ((exit = code ?? signal), resolve())))
  t.teardown(async () => {
    if (exit === null) {
      child.kill('SIGTERM')
      await exited
    }
  })
  await waitFor('the agent check answering', async () =>
    exit !== null
      ? Promise.reject(new Error(`agent exited: ${output}`))
      : (await agentCheckExchange(agentCheck).catch(() => '')) === 'ready up 100%\n',
  )

  const started = Date.now()
  const answers = await inBatches(1000, 100, async (i) => {
    if (i % 10 === 9) {
      await resetOn(agentCheck, i % 20 === 9 ? 'connect' : 'data')
      return 'reset'
    }
    return agentCheckExchange(agentCheck, i % 2 === 0 ? 'be/s1\n' : undefined)
  })
  const elapsed = Date.now() - started
  const wrong = answers.filter((a) => a !== 'reset' && a !== 'ready up 100%\n')
  t.equal(wrong.length, 0, `every answered connection got the line (wrong: ${JSON.stringify(wrong.slice(0, 3))})`)
  t.comment(`1,000 connections in batches of 100: ${elapsed} ms`)

  t.equal(exit, null, 'the agent process is still running')
  t.equal((await httpRequest(`http://127.0.0.1:${listen}/health`)).status, 200, 'the HTTP check still answers')
  const metrics = await waitFor('connections back to 0', async () => {
    const body = (await httpRequest(`http://127.0.0.1:${listen}/metrics`)).body
    return (await metricValue(body, 'health_agent_agent_check_connections')) === 0 ? body : false
  })
  t.ok((await metricValue(metrics, 'health_agent_agent_check_replies_total')) >= 900, 'at least the 900 answered connections counted')
  t.equal(await agentCheckExchange(agentCheck), 'ready up 100%\n', 'and it still answers')
  t.notMatch(output, /"level":(50|60)/, 'nothing logged at error level')
})
