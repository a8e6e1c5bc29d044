import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { ADMIN_STATES, type AdminState } from './state/model.js'
import type { FileProblemKind } from './state/store.js'
import { CONNECTION_READERS, type ConnectionReader } from './http/direct-checks.js'

const PREFIX = 'health_agent_'

/**
 * The agent's Prometheus instruments, on a registry of its own so that two agents in one
 * process (the tests) never share a series.
 */
export class AgentMetrics {
  readonly registry = new Registry()
  private readonly adminState: Gauge<'state'>
  private readonly effectiveState: Gauge<'state'>
  private readonly transitions: Counter<'kind' | 'source' | 'to'>
  private readonly stateFileErrors: Counter<'kind'>
  private readonly stateFileOk: Gauge
  /** Checks answered, by status code: plain numbers on the hot path, handed to prom-client at scrape time. */
  private readonly checksByCode = new Map<number, number>()
  /** Connections on the health listener by who read them, counted like `checksByCode`. */
  readonly connectionsByReader = new Map<ConnectionReader, number>()

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX })
    this.adminState = new Gauge({
      name: `${PREFIX}admin_state`,
      help: 'Admin state set by the operator: 1 for the state in force, 0 for the others',
      labelNames: ['state'],
      registers: [this.registry],
    })
    this.effectiveState = new Gauge({
      name: `${PREFIX}effective_state`,
      help: 'State answered to the load balancers: 1 for the state in force, 0 for the others',
      labelNames: ['state'],
      registers: [this.registry],
    })
    this.transitions = new Counter({
      name: `${PREFIX}state_transitions_total`,
      help: 'State changes, by kind (admin or effective), source or cause, and new state',
      labelNames: ['kind', 'source', 'to'],
      registers: [this.registry],
    })
    const checksByCode = this.checksByCode
    new Counter({
      name: `${PREFIX}checks_total`,
      help: 'Health checks answered on the check path, by HTTP status code',
      labelNames: ['code'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [code, count] of checksByCode) this.inc({ code: String(code) }, count)
      },
    })
    const connectionsByReader = this.connectionsByReader
    new Counter({
      name: `${PREFIX}health_connections_total`,
      help: 'Connections on the health listener, by reader: direct (a plain check answered from the socket) or node_http (everything else)',
      labelNames: ['reader'],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const reader of CONNECTION_READERS) this.inc({ reader }, connectionsByReader.get(reader) ?? 0)
      },
    })
    this.stateFileErrors = new Counter({
      name: `${PREFIX}state_file_errors_total`,
      help: 'Times the state file could not be used (missing, empty, invalid, unreadable); the last good state was kept',
      labelNames: ['kind'],
      registers: [this.registry],
    })
    this.stateFileOk = new Gauge({
      name: `${PREFIX}state_file_ok`,
      help: '1 when the state file was readable and valid at the last read, 0 otherwise',
      registers: [this.registry],
    })
    this.stateFileOk.set(1)
  }

  setAdminState(state: AdminState | null): void {
    for (const s of ADMIN_STATES) this.adminState.labels(s).set(s === state ? 1 : 0)
  }

  setEffectiveState(state: AdminState): void {
    for (const s of ADMIN_STATES) this.effectiveState.labels(s).set(s === state ? 1 : 0)
  }

  countTransition(kind: 'admin' | 'effective', source: string, to: AdminState): void {
    this.transitions.labels(kind, source, to).inc()
  }

  /** The checks held open now (lb/hold.ts), read at scrape time. */
  heldChecks(count: () => number): void {
    new Gauge({
      name: `${PREFIX}checks_held`,
      help: 'Health checks held open now, to be answered the moment the answer changes (a load balancer asked with X-Health-Hold)',
      registers: [this.registry],
      collect() {
        this.set(count())
      },
    })
  }

  /** On the health check's hot path: one map update, no label hashing. */
  countCheck(code: number): void {
    this.checksByCode.set(code, (this.checksByCode.get(code) ?? 0) + 1)
  }

  countConnection(reader: ConnectionReader): void {
    this.connectionsByReader.set(reader, (this.connectionsByReader.get(reader) ?? 0) + 1)
  }

  stateFileProblem(kind: FileProblemKind | null): void {
    this.stateFileOk.set(kind === null ? 1 : 0)
    if (kind) this.stateFileErrors.labels(kind).inc()
  }
}
