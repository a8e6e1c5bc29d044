import { EventEmitter } from 'node:events'
import { RecencyMap } from './recency.js'
import { parseServerState, type ServerState } from './send-state.js'
import type { SourceFilter } from './sources.js'

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
  /** Source address of the last check. A node is bound to the address it was first seen from. */
  source: string
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
  /** Its node's address binding, shared by every view of that node; absent for a plain view. */
  binding?: NodeBinding
}

/**
 * The address a node was first seen from, and the last claim to be that node from another address
 * (refused): while such a claim is recent, nobody can tell which of the two is the load balancer.
 */
export interface NodeBinding {
  readonly source: string
  views: number
  disputedAt: number | null
  disputedBy: string | null
}

export interface LbViewsOptions {
  /** At most this many views are kept; the longest silent goes first, but never one heard from within keepFreshMs. */
  maxViews: number
  /** A view silent for longer than this is forgotten (and its node's address binding with it). */
  forgetAfterMs: number
  /** A view that checked within this long is not dropped to make room: the newcomer is refused instead. */
  keepFreshMs?: number
  /** Only checks from these sources are kept (--lb-sources); null: any source. */
  sources?: SourceFilter | null
}

/**
 * Why a check was not kept as a view: its source is outside --lb-sources; it claims a node bound to
 * another address; or the views are full of load balancers heard from recently.
 */
export const REFUSED_REASONS = ['source', 'node-bound', 'full'] as const
export type RefusedReason = (typeof REFUSED_REASONS)[number]

export interface Refusal {
  reason: RefusedReason
  /** The node it claimed; null without send-state. */
  node: string | null
  source: string
  /** For `node-bound`: the address the node is bound to. */
  boundTo: string | null
}

type ViewEvents = { check: [LbView]; refused: [Refusal] }

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
  /** Views dropped to make room for a newcomer (silent for longer than keepFreshMs, not yet forgotten). */
  evicted = 0
  /** Checks not kept as views, by reason. */
  readonly refused: Record<RefusedReason, number> = { source: 0, 'node-bound': 0, full: 0 }
  /**
   * The source address each node was first seen from, while any view of it is remembered: a claim
   * to be that node from another address is refused, so nobody else can speak for a load balancer
   * that checks (an address change is seen once the node has been silent for forgetAfterMs).
   */
  private readonly nodes = new Map<string, NodeBinding>()

  constructor(options: LbViewsOptions) {
    super()
    this.options = options
  }

  get size(): number {
    return this.views.size
  }

  /**
   * Called on the check route's hot path: one regex, one map update, no I/O. Null when the check
   * is not kept (see Refusal): it is answered as any other, but speaks for no load balancer.
   */
  record(header: string | string[] | undefined, sourceAddress: SourceAddress, answered: number, now = Date.now()): LbView | null {
    const value = Array.isArray(header) ? header[0] : header
    const state = value === undefined ? null : parseServerState(value)
    if (value !== undefined && state === null) this.invalidHeaders++
    // Read on every check (one getpeername per connection, cached by the socket): a view's
    // source is always the current check's, and a node's binding is tested against it.
    const source = addressOf(sourceAddress)
    const node = state?.node ?? null
    if (this.options.sources && !this.options.sources(source)) return this.refuse('source', node, source, null)
    const boundTo = node === null ? undefined : this.boundSource(node, source, now)
    if (boundTo !== undefined && boundTo !== source) {
      const binding = this.nodes.get(node as string) as NodeBinding
      binding.disputedAt = now
      binding.disputedBy = source
      return this.refuse('node-bound', node, source, boundTo)
    }
    const key = state ? `lb\u0000${state.node}\u0000${state.name}` : `addr\u0000${source}`
    let view = this.views.use(key)
    if (view) {
      const gap = Math.max(0, now - view.lastCheckAt)
      view.cadenceMs = view.cadenceMs === null ? gap : Math.round(view.cadenceMs * 0.75 + gap * 0.25)
    } else {
      if (!this.makeRoom(now)) return this.refuse('full', node, source, null)
      view = newView(key, state, source, answered, now)
      this.views.add(key, view)
      if (node !== null) view.binding = this.bind(node, source)
    }
    view.source = source
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
      this.dropOldest()
    }
  }

  /** Room for one more view; false when every view left checked too recently to be dropped for a newcomer. */
  private makeRoom(now: number): boolean {
    this.forget(now)
    const keepFreshMs = this.options.keepFreshMs ?? 0
    while (this.views.size > 0 && this.views.size >= this.options.maxViews) {
      const oldest = this.views.oldest() as LbView
      if (now - oldest.lastCheckAt <= keepFreshMs) return false
      this.dropOldest()
      this.evicted++
    }
    return true
  }

  private dropOldest(): void {
    const view = this.views.oldest()
    this.views.dropOldest()
    if (view?.node == null) return
    const binding = this.nodes.get(view.node)
    if (binding && --binding.views === 0) this.nodes.delete(view.node)
  }

  /** The address `node` is bound to; a binding to another address is first checked against forgetting. */
  private boundSource(node: string, source: string, now: number): string | undefined {
    const bound = this.nodes.get(node)?.source
    if (bound === undefined || bound === source) return bound
    this.forget(now)
    return this.nodes.get(node)?.source
  }

  private bind(node: string, source: string): NodeBinding {
    let binding = this.nodes.get(node)
    if (binding) binding.views++
    else this.nodes.set(node, (binding = { source, views: 1, disputedAt: null, disputedBy: null }))
    return binding
  }

  private refuse(reason: RefusedReason, node: string | null, source: string, boundTo: string | null): null {
    this.refused[reason]++
    if (this.listenerCount('refused') > 0) this.emit('refused', { reason, node, source, boundTo })
    return null
  }
}

function newView(key: string, state: ServerState | null, source: string, answered: number, now: number): LbView {
  return {
    key,
    kind: state ? 'send-state' : 'plain',
    node: state?.node ?? null,
    name: state?.name ?? null,
    source,
    state: null,
    answered,
    lastCheckAt: now,
    firstSeenAt: now,
    checks: 0,
    cadenceMs: null,
    holdCapMs: null,
  }
}
