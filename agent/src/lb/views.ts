import { EventEmitter } from 'node:events'
import { RecencyMap } from './recency.js'
import { parseServerState, type ServerState } from './send-state.js'

/**
 * What one load balancer last told (or was told by) this agent. A checker that sends
 * `X-Haproxy-Server-State` is a `send-state` view keyed by its node and `backend/server` name; any
 * other checker (HAProxy without send-state, LVS, keepalived, a monitor) is a `plain` view keyed by
 * its source address, and all that is known of it is what the agent answered.
 */
export interface LbView {
  readonly key: string
  readonly kind: 'send-state' | 'plain'
  /** `node` from the header; null for a plain view. */
  readonly node: string | null
  /** `backend/server` from the header; null for a plain view. */
  readonly name: string | null
  /**
   * Source address of the last check; for a send-state view, of a check at most SOURCE_REFRESH_MS
   * ago (it is only shown there, and reading it costs a system call a check).
   */
  source: string
  /** Epoch milliseconds when `source` was read. */
  sourceAt: number
  /** The last header, parsed; null for a plain view. */
  state: ServerState | null
  /** HTTP status the agent answered to the last check. */
  answered: number
  /** Epoch milliseconds of the last check. */
  lastCheckAt: number
  firstSeenAt: number
  checks: number
  /** Its usual time between checks (a moving average); null after a single check. */
  cadenceMs: number | null
  /** The longest hold for its checks, once it hung up on a held one (lb/hold.ts); null if never. */
  holdCapMs: number | null
}

export interface LbViewsOptions {
  /** At most this many views are kept; the longest silent goes first. */
  maxViews: number
  /** A view silent for longer than this is forgotten. */
  forgetAfterMs: number
}

type ViewEvents = { check: [LbView] }

/** How often a send-state view's source address is read again: it keys only plain views. */
export const SOURCE_REFRESH_MS = 10_000

/** A check's source address, or its socket to read it from (the check path reads it only when it is needed). */
export type SourceAddress = string | undefined | { readonly remoteAddress?: string | undefined }

function addressOf(source: SourceAddress): string {
  return normalizeAddress(typeof source === 'object' ? source.remoteAddress : source)
}

/** `::ffff:10.0.0.5` and `10.0.0.5` are one checker. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown'
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/**
 * The latest view of every load balancer that checks this agent, fed from the check route. Memory
 * is bounded: the views are kept in order of last check (a check moves its view to the end), so the
 * longest silent views are at the front, where forgetting and capping take them from.
 */
export class LbViews extends EventEmitter<ViewEvents> {
  private readonly views = new RecencyMap<LbView>()
  private readonly options: LbViewsOptions
  /** Checks whose send-state header did not parse: counted, and the checker kept as a plain view. */
  invalidHeaders = 0
  /** Views dropped because the cap was reached while they were still fresh enough to keep. */
  evicted = 0

  constructor(options: LbViewsOptions) {
    super()
    this.options = options
  }

  get size(): number {
    return this.views.size
  }

  /** Called on the check route's hot path: one regex, one map update, no I/O. */
  record(header: string | string[] | undefined, sourceAddress: SourceAddress, answered: number, now = Date.now()): LbView {
    const value = Array.isArray(header) ? header[0] : header
    const state = value === undefined ? null : parseServerState(value)
    if (value !== undefined && state === null) this.invalidHeaders++
    const plainSource = state ? null : addressOf(sourceAddress)
    const key = state ? `lb\u0000${state.node}\u0000${state.name}` : `addr\u0000${plainSource}`
    let view = this.views.use(key)
    if (view) {
      const gap = Math.max(0, now - view.lastCheckAt)
      view.cadenceMs = view.cadenceMs === null ? gap : Math.round(view.cadenceMs * 0.75 + gap * 0.25)
    } else {
      this.makeRoom(now)
      view = {
        key,
        kind: state ? 'send-state' : 'plain',
        node: state?.node ?? null,
        name: state?.name ?? null,
        source: plainSource ?? addressOf(sourceAddress),
        sourceAt: now,
        state: null,
        answered,
        lastCheckAt: now,
        firstSeenAt: now,
        checks: 0,
        cadenceMs: null,
        holdCapMs: null,
      }
      this.views.add(key, view)
    }
    if (plainSource !== null) {
      view.source = plainSource
      view.sourceAt = now
    } else if (now - view.sourceAt >= SOURCE_REFRESH_MS) {
      view.source = addressOf(sourceAddress)
      view.sourceAt = now
    }
    view.state = state
    view.answered = answered
    view.lastCheckAt = now
    view.checks++
    if (this.listenerCount('check') > 0) this.emit('check', view)
    return view
  }

  /** Every view still remembered, longest silent first. */
  list(now = Date.now()): LbView[] {
    this.forget(now)
    return this.views.values()
  }

  private forget(now: number): void {
    for (let oldest = this.views.oldest(); oldest; oldest = this.views.oldest()) {
      if (now - oldest.lastCheckAt <= this.options.forgetAfterMs) break
      this.views.dropOldest()
    }
  }

  private makeRoom(now: number): void {
    this.forget(now)
    while (this.views.size > 0 && this.views.size >= this.options.maxViews) {
      this.views.dropOldest()
      this.evicted++
    }
  }
}
