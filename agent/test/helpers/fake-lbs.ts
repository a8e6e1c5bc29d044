import type { Test } from 'tap'
import { httpRequest } from './http.js'
import type { RunningAgent } from './agent.js'

/**
 * Checks as two HAProxy nodes with send-state would send them, every 50 ms, each reporting the
 * session count the test sets in `scur` and the state the agent's last answer gave it.
 */
export function fakeLoadBalancers(t: Test, running: RunningAgent, scur: Record<string, number>): void {
  const status: Record<string, string> = { lb1: 'UP', lb2: 'UP' }
  const timer = setInterval(() => {
    for (const node of Object.keys(status)) {
      const n = scur[node] ?? 0
      const header = `${status[node]}; address=127.0.0.1; port=8080; name=be/s1; node=${node}; weight=1/1; scur=${n}/${n}; qcur=0`
      httpRequest(`${running.healthUrl}/health`, { headers: { 'x-haproxy-server-state': header } })
        .then((res) => (status[node] = res.status === 200 ? 'UP' : res.status === 404 ? 'NOLB' : 'DOWN'))
        .catch(() => undefined)
    }
  }, 50)
  t.teardown(() => clearInterval(timer))
}
