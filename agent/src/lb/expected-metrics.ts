import { Gauge, type Registry } from 'prom-client'

/**
 * One series per load balancer named in --expect-lb, 1 while it has not checked within the stale
 * time: an expected load balancer gone silent leaves no series of its own (its view is forgotten),
 * so an alert needs this one.
 */
export function registerExpectedLbMetric(registry: Registry, expected: readonly string[], missing: () => readonly string[]): void {
  new Gauge({
    name: 'health_agent_lb_expected_silent',
    help: 'For each load balancer of --expect-lb: 1 when it has not checked within --lb-stale-ms, 0 when it has',
    labelNames: ['lb'],
    registers: [registry],
    collect() {
      const silent = missing()
      for (const lb of expected) this.set({ lb }, silent.includes(lb) ? 1 : 0)
    },
  })
}
