import { Counter, Gauge, type Registry } from 'prom-client'
import type { AgentWord } from './reply.js'
import type { WeightStatus } from './weight.js'

const PREFIX = 'health_agent_'

export type ConnectionProblem = 'reset' | 'timeout' | 'dropped' | 'oversized' | 'other'

/**
 * The agent check's and the weight's instruments, on the agent's own registry (see metrics.ts).
 * The weight gauges are computed when scraped, so a ramp needs no timer to show.
 */
export class AgentCheckMetrics {
  private readonly replies: Counter<'reply'>
  private readonly problems: Counter<'kind'>
  private readonly open: Gauge
  private readonly replyCounters = new Map<AgentWord, Counter.Internal>()

  constructor(registry: Registry, weight: () => WeightStatus) {
    this.replies = new Counter({
      name: `${PREFIX}agent_check_replies_total`,
      help: 'Agent-check answers sent, by their first word (ready, drain, maint, down)',
      labelNames: ['reply'],
      registers: [registry],
    })
    this.problems = new Counter({
      name: `${PREFIX}agent_check_connection_problems_total`,
      help: 'Agent-check connections that ended badly: reset by the peer, timed out, dropped over the connection cap, sent too much, other socket errors',
      labelNames: ['kind'],
      registers: [registry],
    })
    this.open = new Gauge({
      name: `${PREFIX}agent_check_connections`,
      help: 'Agent-check connections open now',
      registers: [registry],
    })
    new Gauge({
      name: `${PREFIX}weight_percent`,
      help: "Weight in the agent-check answer, in percent of the server's HAProxy weight (ramp, override or 100)",
      registers: [registry],
      collect() {
        this.set(weight().percent)
      },
    })
    new Gauge({
      name: `${PREFIX}weight_ramp_progress_ratio`,
      help: 'Elapsed share of the weight ramp under way, 0 to 1; 1 when no ramp is under way',
      registers: [registry],
      collect() {
        this.set(weight().ramp?.progress ?? 1)
      },
    })
    new Gauge({
      name: `${PREFIX}weight_override_active`,
      help: "1 while an operator's weight override (agentctl weight) is in force, 0 otherwise",
      registers: [registry],
      collect() {
        this.set(weight().override ? 1 : 0)
      },
    })
  }

  countReply(word: AgentWord): void {
    let counter = this.replyCounters.get(word)
    if (!counter) {
      counter = this.replies.labels(word)
      this.replyCounters.set(word, counter)
    }
    counter.inc()
  }

  countProblem(kind: ConnectionProblem): void {
    this.problems.labels(kind).inc()
  }

  connectionOpened(): void {
    this.open.inc()
  }

  connectionClosed(): void {
    this.open.dec()
  }
}
