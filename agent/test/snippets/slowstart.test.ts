import t from 'tap'
import { startAgent } from '../helpers/agent.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { waitFor } from '../helpers/wait.js'

/**
 * What the snippets say about slowstart, checked on a real HAProxy: does the weight ramp after
 * each way back to UP? A server in slowstart shows a `throttle` (percent) in `show stat`.
 * Fast timers (inter 100 ms) so that each transition takes a fraction of a second.
 */
t.test('slowstart after NOLB->UP and DOWN->UP with httpchk + disable-on-404, on a real HAProxy (fast timers)', async (t) => {
  const agent = await startAgent(t)
  const haproxy = await startHaproxy(
    t,
    agent.dir,
    [
      'defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    timeout check 2s',
      'backend be',
      '    option httpchk GET /health',
      '    http-check disable-on-404',
      '    http-check send-state',
      `    server s1 127.0.0.1:${agent.healthPort} check inter 100ms fastinter 100ms downinter 100ms rise 2 fall 2 slowstart 20s`,
    ].join('\n'),
  )
  const stat = () => haproxy.serverStat('be', 's1')
  const reach = async (status: string) =>
    waitFor(`s1 ${status}`, async () => ((await stat()).status === status ? await stat() : false), { timeoutMs: 20_000 })
  /** The throttle right after a return to UP: slowstart 20 s, read within the first seconds. */
  const throttleAfter = async (from: 'drain' | 'down') => {
    await agent.admin('PUT', '/v1/state', { state: from })
    await reach(from === 'drain' ? 'NOLB' : 'DOWN')
    await agent.admin('PUT', '/v1/state', { state: 'ready' })
    const up = await reach('UP')
    return up.throttle ?? ''
  }
  await reach('UP')
  const afterNolb = await throttleAfter('drain')
  const afterDown = await throttleAfter('down')
  t.comment(`throttle right after NOLB->UP: "${afterNolb}"; after DOWN->UP: "${afterDown}"`)
  t.match(afterDown, /^\d+$/, 'DOWN->UP ramps')
  t.ok(Number(afterDown) < 100)
  t.match(afterNolb, /^\d+$/, 'NOLB->UP ramps too')
  t.ok(Number(afterNolb) < 100)
})
