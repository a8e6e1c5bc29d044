import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { ADMIN_STATES, type AdminState } from './state/model.js'
import type { FileProblemKind } from './state/store.js'
import { CONNECTION_READERS, type ConnectionReader } from './http/direct-checks.js'

const PREFIX = 'health_agent_'

/**
 * A counter kept on the hot path as plain numbers in `counts`, handed to prom-client only when
 * scraped (no label hashing per increment); the keys in `always` are shown even at 0.
 */
function scrapedCounter<K extends string | number>(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  counts: ReadonlyMap<K, number>,
  always: readonly K[] = [],
): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset()
      for (const key of always) if (!counts.has(key)) this.inc({ [label]: String(key) }, 0)
      for (const [key, count] of counts) this.inc({ [label]: String(key) }, count)
    },
  })
}

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

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
  /** Checks answered, by status code. */
  private readonly checksByCode = new Map<number, number>()
  /** Connections on the health listener, by who read them. */
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
    scrapedCounter(
      this.registry,
      'checks_total',
      'Health checks answered on the check path, by HTTP status code',
      'code',
      this.checksByCode,
    )
    scrapedCounter(
      this.registry,
      'health_connections_total',
      'Connections on the health listener, by reader: direct (a plain check answered from the socket) or node_http (everything else)',
      'reader',
      this.connectionsByReader,
      CONNECTION_READERS,
    )
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
    increment(this.checksByCode, code)
  }

  countConnection(reader: ConnectionReader): void {
    increment(this.connectionsByReader, reader)
  }

  stateFileProblem(kind: FileProblemKind | null): void {
    this.stateFileOk.set(kind === null ? 1 : 0)
    if (kind) this.stateFileErrors.labels(kind).inc()
  }
}
