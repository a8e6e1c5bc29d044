import { request } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { startAgent } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { startHttpServer } from '../helpers/http-server.js'
import { waitFor } from '../helpers/wait.js'

interface WaitDoc {
  wait: {
    outcome: string
    confirmation: { why: string | null; loadBalancers: Array<{ lb: string; oneOff: boolean; confirmed: boolean; why: string | null }> }
  }
}

/** One GET of the check path from another loopback address, as a person's curl from elsewhere. */
function strayGet(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/health', localAddress: '127.0.0.2', agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test(
  'defaults: a checker without send-state is waited for, a one-off request is not, and with no checker left the wait says so',
  async (t) => {
    // The agent on its defaults (lb-stale 10 s); HAProxy without send-state (so without the hold) on the
    // timers the recommended snippet gives for that case.
    const running = await startAgent(t)
    const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
    const backend = await startHttpServer(t, (_, res) => res.end('backend\n'))
    const haproxy = await startHaproxy(
      t,
      running.dir,
      `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

backend be
    timeout check 2s
    option httpchk GET /health
    http-check disable-on-404
    server s1 127.0.0.1:${backend.port} check port ${running.healthPort} inter 1s fastinter 250ms downinter 1s rise 2 fall 2`,
    )
    // Until lb-stale after its start the agent gives load balancers time to check in; by then HAProxy is regular.
    await waitFor(
      'HAProxy UP and a regular checker of the agent',
      async () => {
        const status = JSON.parse((await running.admin('GET', '/v1/status')).body) as {
          loadBalancers: { confirmation: { confirmed: boolean } | null }
        }
        return (await haproxy.serverStat('be', 's1')).status === 'UP' && status.loadBalancers.confirmation?.confirmed === true
      },
      { timeoutMs: 40_000, intervalMs: 200 },
    )

    t.equal(await strayGet(running.healthPort), 200, 'the stray request is answered like any check')
    const started = Date.now()
    const drained = await agentctl(['drain', '--wait', '--timeout', '30', '--json'], env, 60_000)
    const seconds = (Date.now() - started) / 1000
    t.equal(drained.code, 0, `drain --wait confirmed ${drained.stderr}`)
    const doc = JSON.parse(drained.stdout) as WaitDoc
    t.ok(seconds < 5, `confirmed after ${seconds.toFixed(2)} s: one check of HAProxy (inter 1 s), not the 10 s stale time`)
    t.match(
      doc.wait.confirmation.loadBalancers,
      [
        { lb: '127.0.0.1', oneOff: false, confirmed: true },
        { lb: '127.0.0.2', oneOff: true, why: /one-off, not counted/ },
      ],
      'HAProxy (no send-state) confirmed it; the stray request is listed, not counted',
    )

    // HAProxy stops checking: until it is stale it holds the wait (it may still send traffic)...
    t.equal((await agentctl(['ready', '--wait', '--timeout', '30'], env, 60_000)).code, 0, 'ready again')
    await haproxy.command('disable health be/s1')
    const held = await agentctl(['drain', '--wait', '--timeout', '1'], env)
    t.equal(held.code, 1, 'a regular checker that has not checked since the drain began holds it')
    t.match(held.stderr, /127\.0\.0\.1: no check since the drain began/)
    // ...then, stale after 3 of its intervals, nothing is left to confirm, and the wait says so.
    await waitFor(
      'HAProxy stale',
      async () => {
        const wait = await agentctl(['drain', '--wait', '--timeout', '1'], env)
        return (
          wait.code === 1 && /no load balancer has checked in the last 10\.0s: nothing can confirm this/.test(wait.stderr) && wait.stderr
        )
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    )
    const none = await agentctl(['drain', '--wait', '--timeout', '1', '--json'], env)
    t.equal(none.code, 1, 'never confirmed by zero load balancers')
    t.match(
      (JSON.parse(none.stdout) as WaitDoc).wait.confirmation.why,
      /one-off requests from 127\.0\.0\.2 are not counted\); list them with --expect-lb/,
    )
  },
)

t.test(
  'defaults, HAProxy with send-state: a script that polled /health every 50 ms and stopped does not count, nor hold the next drain',
  async (t) => {
    const running = await startAgent(t)
    const env = { HEALTH_AGENT_URL: running.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(running.dir, 'admin-token') }
    const backend = await startHttpServer(t, (_, res) => res.end('backend\n'))
    const haproxy = await startHaproxy(
      t,
      running.dir,
      `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

backend be
    timeout check 2s
    option httpchk GET /health
    http-check disable-on-404
    http-check send-state
    server s1 127.0.0.1:${backend.port} check port ${running.healthPort} inter 1s fastinter 250ms downinter 1s rise 2 fall 2`,
    )
    await waitFor(
      'HAProxy UP and confirming ready',
      async () => {
        const status = JSON.parse((await running.admin('GET', '/v1/status')).body) as {
          loadBalancers: { confirmation: { confirmed: boolean } | null }
        }
        return (await haproxy.serverStat('be', 's1')).status === 'UP' && status.loadBalancers.confirmation?.confirmed === true
      },
      { timeoutMs: 40_000, intervalMs: 200 },
    )
    // The script: 40 polls, 50 ms apart (its own pace), then it stops.
    for (let i = 0; i < 40; i++) {
      t.equal(await strayGet(running.healthPort), 200)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const drained = await agentctl(['drain', '--wait', '--timeout', '30', '--json'], env, 60_000)
    t.equal(drained.code, 0, `drain --wait confirmed ${drained.stderr}`)
    t.match(
      (JSON.parse(drained.stdout) as WaitDoc).wait.confirmation.loadBalancers,
      [
        { lb: '127.0.0.2', oneOff: true, why: /beside load balancers with it: not counted/ },
        { lb: String, oneOff: false, confirmed: true },
      ],
      'the poller is listed, not counted; HAProxy confirmed',
    )
  },
)
