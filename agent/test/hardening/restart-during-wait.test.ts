import { createServer, request, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { recommendedCheckLines } from '../helpers/snippet.js'
import { tempDir } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { freePort } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'
import { figures, startPackedAgent } from './harness.js'

/** Stands in for Tomcat's traffic: holds every request until released, so HAProxy reports scur > 0. */
async function holdingBackend(t: Parameters<typeof tempDir>[0]) {
  const held: ServerResponse[] = []
  const server = createServer((_, res) => held.push(res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return { port: (server.address() as { port: number }).port, held, release: () => held.splice(0).forEach((r) => r.end('ok')) }
}

t.test('kill -9 and restart of the agent during drain --wait: the wait fails, it never confirms', async (t) => {
  const dir = tempDir(t, 'hardening-')
  const backend = await holdingBackend(t)
  const [healthPort, frontendPort] = [await freePort(), await freePort()]
  const args = ['--listen', `127.0.0.1:${healthPort}`, '--expect-lb', 'lb1']
  let agent = await startPackedAgent(t, dir, args)
  // The snippet's timers (httpchk-backend.cfg), one load balancer.
  const haproxy = await startHaproxy(
    t,
    dir,
    `defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:${frontendPort}
    default_backend be

backend be
${recommendedCheckLines(healthPort)}
    server s1 127.0.0.1:${backend.port}`,
    'lb1',
    ['node lb1'],
  )
  await waitFor('lb1 to see s1 UP', async () => (await haproxy.serverStat('be', 's1')).status === 'UP', { timeoutMs: 30_000 })
  // One request in flight through lb1: the drain cannot be confirmed while it lasts.
  const inFlight = new Promise<void>((resolve) => {
    const req = request(`http://127.0.0.1:${frontendPort}/slow`, { agent: false }, (res) => res.resume().on('end', resolve))
    req.on('error', () => resolve())
    req.end()
  })
  await waitFor('the request to reach the backend', () => backend.held.length === 1, { timeoutMs: 10_000 })

  const env = { HEALTH_AGENT_URL: agent.process.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(dir, 'admin-token') }
  const started = Date.now()
  const waiting = agentctl(['drain', '--wait', '--timeout', '60', '--reason', 'restart during wait'], env, 90_000)
  await waitFor('lb1 to see the drain', async () => (await haproxy.serverStat('be', 's1')).status === 'NOLB', { timeoutMs: 20_000 })
  await agent.process.stop('SIGKILL')
  agent = await startPackedAgent(t, dir, args)
  const result = await waiting
  const stateAfter = (await agent.status()).admin?.state

  backend.release()
  await inFlight
  const again = await agentctl(['drain', '--wait', '--timeout', '60'], { ...env, HEALTH_AGENT_URL: agent.process.adminUrl }, 90_000)
  figures(t, 'restart during drain --wait', {
    waitExit: result.code,
    waitSaid: (result.stderr || result.stdout).trim().split('\n').at(-1),
    waitSeconds: (Date.now() - started) / 1000,
    stateAfterRestart: stateAfter,
    waitAfterRelease: again.code,
  })
  t.not(result.code, 0, 'the interrupted wait exits non-zero')
  t.notMatch(result.stdout, /confirmed/i, 'and never says confirmed')
  t.equal(stateAfter, 'drain', 'the restarted agent is still draining')
  t.equal(again.code, 0, 'a new wait confirms once the request has ended (the test can tell a confirmation)')
})
