import type { WeightStatus } from '../agentcheck/weight.js'
import type { ResolvedConfig } from '../config/load.js'
import type { Confirmation } from '../lb/confirm.js'
import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import type { AgentStatus } from '../protocol/status.js'
import type { Verdict } from '../state/effective.js'
import type { StateRecord } from '../state/model.js'
import type { FileProblem } from '../state/store.js'
import type { TomcatStatus } from '../tomcat/monitor.js'

/** What the agent-check door tells the status: where it listens and how many checkers are connected. */
export interface AgentCheckDoorInfo {
  address: () => string | null
  connections: () => number
}

export interface StatusParts {
  config: ResolvedConfig
  startedAt: string
  verdict: Verdict
  admin: StateRecord | null
  stateFileProblem: FileProblem | null
  tomcat: TomcatStatus
  lbViews: number
  confirmation: Confirmation | null
  weight: WeightStatus
  agentCheck: { reply: string; door: AgentCheckDoorInfo | null }
}

/** `GET /v1/status`, from the core's parts: one shape for the admin API, agentctl and the page. */
export function buildStatus(p: StatusParts): AgentStatus {
  const { config, admin } = p
  return {
    agent: { name: PACKAGE_NAME, version: PACKAGE_VERSION, node: process.version, pid: process.pid, startedAt: p.startedAt },
    effective: p.verdict,
    admin: admin
      ? {
          state: admin.state,
          since: admin.since ?? p.startedAt,
          reason: admin.reason ?? null,
          by: admin.by ?? null,
          until: admin.until ?? null,
        }
      : null,
    stateFile: { path: config.stateFile, ok: p.stateFileProblem === null, problem: p.stateFileProblem },
    auditFile: config.auditFile,
    checkPath: config.checkPath,
    tomcat: p.tomcat,
    loadBalancers: { staleAfterMs: config.lbStaleMs, expected: config.expectLb, views: p.lbViews, confirmation: p.confirmation },
    weight: p.weight,
    agentCheck: {
      listen: p.agentCheck.door?.address() ?? null,
      reply: p.agentCheck.reply,
      connections: p.agentCheck.door?.connections() ?? 0,
    },
  }
}
