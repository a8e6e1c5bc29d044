import type { FileProblem } from '../state/store.js'
import type { StateRecord } from '../state/model.js'
import type { Verdict } from '../state/effective.js'
import type { TomcatStatus } from '../tomcat/monitor.js'
import type { Confirmation } from '../lb/confirm.js'
import type { AgentCheckStatus } from '../agentcheck/server.js'
import type { WeightStatus } from '../agentcheck/weight.js'

/** What `GET /v1/status` returns and `agentctl status --json` prints: keep it stable. */
export interface AgentStatus {
  agent: { name: string; version: string; node: string; pid: number; startedAt: string }
  effective: Verdict
  /** `until`: when a drain or down ends by itself (ISO), null when it does not. */
  admin: Required<Pick<StateRecord, 'state' | 'since'>> & { reason: string | null; by: string | null; until: string | null } | null
  stateFile: { path: string; ok: boolean; problem: FileProblem | null }
  auditFile: string
  checkPath: string
  /** The probe, warm-up and manager signals; each part null when not configured. */
  tomcat: TomcatStatus
  /** What the load balancers report, and whether they confirm the admin state (drain: drained, down: down, ready: ready). */
  loadBalancers: {
    staleAfterMs: number
    expected: readonly string[]
    /** Views remembered, stale ones included. */
    views: number
    confirmation: Confirmation | null
  }
  /** The weight the agent check reports, with the ramp and override behind it. */
  weight: WeightStatus
  agentCheck: AgentCheckStatus
}

// The vocabulary of the wire, for clients: agentctl imports it from here, not from server modules.
export { goalOf, WAIT_GOALS, type WaitGoal, type Confirmation, type LbProgress } from '../lb/confirm.js'
export type { WaitEvent, WaitOutcome } from '../lb/tracker.js'
export { ADMIN_STATES, HTTP_STATUS_OF, type AdminState } from '../state/model.js'
