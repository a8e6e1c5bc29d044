import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { WAIT_GOALS } from '../lb/confirm.js'
import { AdminStateSchema } from './requests.js'

/**
 * What `GET /v1/status` returns (and `agentctl status --json` prints), and what `GET /v1/wait`
 * streams, declared once as schemas: the types the agent builds them with are these, and a
 * contract test checks a running agent's documents against them. Keep them stable.
 */

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Iso = Type.String({ description: 'an ISO time' })
const Literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)))

export const WaitGoalSchema = Literals(WAIT_GOALS)

export const CAUSES = ['admin', 'no-state', 'tomcat-down', 'tomcat-unknown', 'warmup', 'returning'] as const
export const WARMUP_PHASES = ['none', 'skipped', 'pending', 'running', 'passed', 'ready-anyway', 'failed'] as const
export const FILE_PROBLEM_KINDS = [
  'missing',
  'unreadable',
  'not-a-file',
  'too-large',
  'empty',
  'invalid',
  'write-failed',
  'audit-behind',
] as const
export const WEIGHT_SOURCES = ['full', 'ramp', 'override', 'ramp-pending'] as const
export const WAIT_OUTCOMES = ['confirmed', 'timeout', 'forced', 'state-changed', 'closing', 'cancelled'] as const

/** The answer and why it differs from the admin state (`why` null when it does not). */
export const VerdictSchema = Type.Object({
  state: AdminStateSchema,
  httpStatus: Type.Integer(),
  cause: Literals(CAUSES),
  why: Nullable(Type.String()),
})

export const FileProblemSchema = Type.Object({ kind: Literals(FILE_PROBLEM_KINDS), message: Type.String(), since: Iso })

export const ProbeResultSchema = Type.Object({
  ok: Type.Boolean(),
  at: Iso,
  latencyMs: Type.Number(),
  status: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  connectionLost: Type.Boolean(),
})

/** One deployed version of a watched context (Tomcat's parallel deployment: `app##002`); `''` without a version. */
export const ContextVersionSchema = Type.Object({ version: Type.String(), status: Type.String(), sessions: Type.Integer() })

export const ManagerSignalsSchema = Type.Object({
  busyThreads: Nullable(Type.Integer()),
  /** Active sessions per watched context, all its versions together. */
  sessions: Nullable(Type.Record(Type.String(), Type.Integer())),
  /** Per watched context, its deployed versions oldest first: the last takes new sessions, the others drain. */
  versions: Nullable(Type.Record(Type.String(), Type.Array(ContextVersionSchema))),
  at: Nullable(Iso),
  error: Nullable(Type.String()),
})

export const TomcatStatusSchema = Type.Object({
  /** null: no --tomcat-url, the admin state alone decides. */
  probe: Nullable(
    Type.Object({
      url: Type.String(),
      intervalMs: Type.Integer(),
      fastIntervalMs: Type.Integer(),
      pidFile: Nullable(Type.String()),
      watchful: Type.Boolean(),
      returning: Nullable(Type.Object({ from: Literals(['drain', 'down'] as const), since: Iso, passes: Type.Integer() })),
      timeoutMs: Type.Integer(),
      fall: Type.Integer(),
      rise: Type.Integer(),
      startupPolicy: Literals(['down', 'admin'] as const),
      liveness: Literals(['unknown', 'up', 'down'] as const),
      since: Nullable(Iso),
      passes: Type.Integer(),
      failures: Type.Integer(),
      last: Nullable(ProbeResultSchema),
      lastFailure: Nullable(ProbeResultSchema),
    }),
  ),
  /** null: no --warmup-urls. */
  warmup: Nullable(
    Type.Object({
      urls: Type.Array(Type.String()),
      phase: Literals(WARMUP_PHASES),
      /** The newest version of the probed context when this warm-up began (parallel deployment); null when unknown. */
      version: Nullable(Type.String()),
      startedAt: Nullable(Iso),
      finishedAt: Nullable(Iso),
      elapsedMs: Nullable(Type.Number()),
      done: Type.Integer(),
      failed: Type.Integer(),
      total: Nullable(Type.Integer()),
      maxFailures: Type.Integer(),
      onFailure: Literals(['down', 'ready'] as const),
      lastError: Nullable(Type.String()),
      retryAt: Nullable(Iso),
      perUrl: Type.Array(Type.Object({ url: Type.String(), requests: Type.Integer(), failures: Type.Integer(), slowestMs: Type.Number() })),
    }),
  ),
  /** null: no --tomcat-manager-url. */
  manager: Nullable(
    Type.Object({
      url: Type.String(),
      contexts: Type.Array(Type.String()),
      pollMs: Type.Integer(),
      polling: Type.Boolean(),
      signals: ManagerSignalsSchema,
    }),
  ),
})

/** One load balancer's view of this server and whether it confirms the goal (`why` null when it does). */
export const LbProgressSchema = Type.Object({
  /** Its node name, or the source address of a checker without send-state. */
  lb: Type.String(),
  /** `backend/server` as that load balancer names this server; null without send-state. */
  server: Nullable(Type.String()),
  kind: Literals(['send-state', 'plain'] as const),
  source: Type.String(),
  /** `UP`, `NOLB`, `DOWN 1/2`...; for a checker without send-state, `answered 404`. */
  status: Type.String(),
  scur: Nullable(Type.Integer()),
  qcur: Nullable(Type.Integer()),
  /** `server/farm` */
  weight: Nullable(Type.String()),
  throttle: Nullable(Type.Integer()),
  lastCheckAt: Iso,
  ageMs: Type.Number(),
  checks: Type.Integer(),
  stale: Type.Boolean(),
  expected: Type.Boolean(),
  /** A checker without send-state that does not count (a one-off, too rare, or beside load balancers with send-state): shown, never waited for. */
  oneOff: Type.Boolean(),
  confirmed: Type.Boolean(),
  why: Nullable(Type.String()),
})

export const TomcatProgressSchema = Type.Object({
  confirmed: Type.Boolean(),
  busyThreads: Nullable(Type.Integer()),
  sessions: Nullable(Type.Integer()),
  maxSessions: Nullable(Type.Integer()),
  at: Nullable(Iso),
  why: Nullable(Type.String()),
})

export const ConfirmationSchema = Type.Object({
  goal: WaitGoalSchema,
  since: Iso,
  at: Iso,
  confirmed: Type.Boolean(),
  /** Everything still in the way, in one line; null when confirmed. */
  why: Nullable(Type.String()),
  /** The most relevant views, at most 32 (expected, then in the way, then counted, then the rest). */
  loadBalancers: Type.Array(LbProgressSchema),
  /** Views left out of loadBalancers. */
  omitted: Type.Integer(),
  /** Expected load balancers with no fresh view. */
  missing: Type.Array(Type.String()),
  /** Fresh load balancers that count (one-offs and stale views do not). */
  counted: Type.Integer(),
  tomcat: Nullable(TomcatProgressSchema),
  /** No load balancer checks this server (none expected or seen since the agent's first stale window): nothing to confirm. */
  noLoadBalancer: Type.Boolean(),
})

export const WeightOverrideSchema = Type.Object({
  percent: Type.Integer(),
  /** ISO time it ends by itself; null for "until cleared". */
  until: Nullable(Iso),
  reason: Nullable(Type.String()),
  by: Nullable(Type.String()),
  since: Iso,
})

export const RampSettingsSchema = Type.Object({ startPercent: Type.Integer(), durationMs: Type.Integer(), steps: Type.Integer() })

export const WeightStatusSchema = Type.Object({
  /** The weight in the agent-check answer now, in percent of the server's HAProxy weight. */
  percent: Type.Integer(),
  /** full: no ramp, no override; ramp: under way; override: set by an operator; ramp-pending: not ready, a return to ready starts a ramp. */
  source: Literals(WEIGHT_SOURCES),
  ramp: Nullable(
    Type.Object({
      startedAt: Iso,
      endsAt: Iso,
      startPercent: Type.Integer(),
      step: Type.Integer(),
      steps: Type.Integer(),
      progress: Type.Number(),
    }),
  ),
  override: Nullable(WeightOverrideSchema),
  settings: RampSettingsSchema,
  file: Type.Object({ path: Type.String(), ok: Type.Boolean(), problem: Nullable(Type.String()) }),
})

export const AgentCheckStatusSchema = Type.Object({
  /** Bound address, null when the listener is off. */
  listen: Nullable(Type.String()),
  /** The line the agent check answers now (without its line break), whether or not it listens. */
  reply: Type.String(),
  connections: Type.Integer(),
})

export const AgentStatusSchema = Type.Object({
  agent: Type.Object({ name: Type.String(), version: Type.String(), node: Type.String(), pid: Type.Integer(), startedAt: Iso }),
  effective: VerdictSchema,
  /** `until`: when a drain or down ends by itself, null when it does not. */
  admin: Nullable(
    Type.Object({
      state: AdminStateSchema,
      since: Iso,
      reason: Nullable(Type.String()),
      by: Nullable(Type.String()),
      until: Nullable(Iso),
    }),
  ),
  stateFile: Type.Object({ path: Type.String(), ok: Type.Boolean(), problem: Nullable(FileProblemSchema) }),
  auditFile: Type.String(),
  checkPath: Type.String(),
  /** The probe, warm-up and manager signals; each part null when not configured. */
  tomcat: TomcatStatusSchema,
  /** What the load balancers report, and whether they confirm the admin state (drain: drained, down: down, ready: ready). */
  loadBalancers: Type.Object({
    staleAfterMs: Type.Integer(),
    expected: Type.Array(Type.String()),
    /** Views remembered, stale ones included. */
    views: Type.Integer(),
    confirmation: Nullable(ConfirmationSchema),
  }),
  /** The weight the agent check reports, with the ramp and override behind it. */
  weight: WeightStatusSchema,
  agentCheck: AgentCheckStatusSchema,
})

/** One line of `GET /v1/wait`: progress events, then one `done` with its outcome. */
export const WaitEventSchema = Type.Object({
  event: Literals(['progress', 'done'] as const),
  goal: WaitGoalSchema,
  /** On `done` only. */
  outcome: Type.Optional(Literals(WAIT_OUTCOMES)),
  elapsedMs: Type.Number(),
  /** The admin state when the event was made. */
  state: Nullable(Type.String()),
  confirmation: Nullable(ConfirmationSchema),
})

export type Verdict = Static<typeof VerdictSchema>
export type Cause = (typeof CAUSES)[number]
export type WarmupPhase = (typeof WARMUP_PHASES)[number]
export type FileProblemKind = (typeof FILE_PROBLEM_KINDS)[number]
export type FileProblem = Static<typeof FileProblemSchema>
export type ProbeResult = Static<typeof ProbeResultSchema>
export type ManagerSignals = Static<typeof ManagerSignalsSchema>
export type ContextVersion = Static<typeof ContextVersionSchema>
export type TomcatStatus = Static<typeof TomcatStatusSchema>
export type LbProgress = Static<typeof LbProgressSchema>
export type TomcatProgress = Static<typeof TomcatProgressSchema>
export type Confirmation = Static<typeof ConfirmationSchema>
export type WeightOverride = Static<typeof WeightOverrideSchema>
export type RampSettings = Static<typeof RampSettingsSchema>
export type WeightSource = (typeof WEIGHT_SOURCES)[number]
export type WeightStatus = Static<typeof WeightStatusSchema>
export type AgentCheckStatus = Static<typeof AgentCheckStatusSchema>
export type AgentStatus = Static<typeof AgentStatusSchema>
export type WaitOutcome = (typeof WAIT_OUTCOMES)[number]
export type WaitEvent = Static<typeof WaitEventSchema>

// The vocabulary of the wire, for clients: agentctl imports it from here, not from server modules.
export { goalOf, WAIT_GOALS, type WaitGoal } from '../lb/confirm.js'
export { ADMIN_STATES, HTTP_STATUS_OF, type AdminState } from '../state/model.js'
export type { AuditTail, HistoryEntry } from '../state/audit-reader.js'
export { MAX_EXPIRY_SECONDS } from '../state/expiry.js'
