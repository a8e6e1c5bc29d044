import type { AdminState } from '../state/model.js'
import type { TomcatSignals } from './tomcat-signals.js'
import type { LbView, NodeBinding } from './views.js'
import type { Confirmation, LbProgress, TomcatProgress } from '../protocol/status.js'
export type { Confirmation, LbProgress, TomcatProgress }

/**
 * What a wait waits for:
 * - `drained`: no load balancer has anything in flight on this server and none sends it new
 *   sessions: every one reports NOLB or DOWN with scur=0 and qcur=0 on a check made after the state
 *   began (and Tomcat, when its manager signals are wired, has no busy thread and few sessions);
 * - `down`: no load balancer sends it traffic: every one reports DOWN, or NOLB with nothing in flight;
 * - `ready`: every load balancer reports it plainly UP (no pending failed checks, weight above 0).
 */
export const WAIT_GOALS = ['drained', 'down', 'ready'] as const
export type WaitGoal = (typeof WAIT_GOALS)[number]

/** The admin states under which a goal can be reached; a wait ends when the state leaves them. */
export const GOAL_STATES: Readonly<Record<WaitGoal, readonly AdminState[]>> = {
  drained: ['drain', 'down'],
  down: ['down'],
  ready: ['ready'],
}

export function goalOf(state: AdminState): WaitGoal {
  return state === 'drain' ? 'drained' : state
}

/** HTTP answers that tell a checker without send-state that the goal's state is in force. */
const PLAIN_ANSWERS: Readonly<Record<WaitGoal, readonly number[]>> = { drained: [404, 500], down: [500], ready: [200] }

const BEGAN: Readonly<Record<WaitGoal, string>> = { drained: 'the drain began', down: 'down began', ready: 'ready began' }

export interface ConfirmationInputs {
  goal: WaitGoal
  /** Epoch ms the admin state began: only checks made after it count. */
  since: number
  now: number
  views: readonly LbView[]
  /** A view without a check for longer than this is stale: ignored, unless its load balancer is expected. */
  staleMs: number
  /** Load balancers that must confirm: a `node` name, or a source address for a checker without send-state. */
  expect: readonly string[]
  /** Epoch ms the agent started: until staleMs later, a load balancer may not have checked in yet. */
  startedAt: number
  /** Present when Tomcat's manager signals are wired in; they count for `drained` only. */
  tomcat?: { signals: TomcatSignals | null; maxSessions: number }
  /** What this agent answers now; `ready` is confirmed only while it answers ready itself. */
  answer?: { state: AdminState; why: string | null }
  /** An agent-check listener is on: load balancers may check through it, unseen by the views. */
  agentCheck?: boolean
}

/**
 * True when no load balancer checks this server at all: none expected, no agent-check listener,
 * the agent up for a whole stale window, and not one view that counts (one-offs aside) since it
 * started. There is then nothing to drain or confirm. A checker seen and gone silent is not this
 * case (without send-state it may still send traffic: `disable health`, an LVS whose checker
 * died): its view blocks as before, until it is forgotten.
 */
export function noLoadBalancer(inputs: ConfirmationInputs): boolean {
  if (inputs.expect.length > 0 || inputs.agentCheck) return false
  if (inputs.now - inputs.startedAt < inputs.staleMs) return false
  return inputs.views.every((view) => oneOff(view, inputs.staleMs) !== null)
}

/**
 * A checker without send-state counts as a load balancer once it checks regularly: at least this
 * many checks, at most half the stale time apart. Fewer is a one-off (a person's curl, a script
 * waiting for the agent), which never holds a wait.
 */
export const REGULAR_CHECKS = 3

/** A regular checker without send-state is stale after this many of its own intervals (at least MIN_CADENCE_STALE_MS). */
const CADENCE_STALE_FACTOR = 3
const MIN_CADENCE_STALE_MS = 1000

/**
 * Why a checker without send-state is not counted; null when it is (send-state views always are).
 * While a load balancer with send-state checks, one without it counts only when expected: anything
 * that polls the check path (a script waiting for the agent, a monitor) would otherwise hold waits.
 */
export function oneOff(view: LbView, staleMs: number, sendStateChecking = false): string | null {
  if (view.kind !== 'plain') return null
  if (sendStateChecking) return 'checks without send-state beside load balancers with it: not counted (unless in --expect-lb)'
  if (view.checks < REGULAR_CHECKS) return `${plural(view.checks, 'check')} without send-state: a one-off, not counted`
  if (view.cadenceMs === null || view.cadenceMs > staleMs / 2)
    return `checks without send-state every ${seconds(view.cadenceMs ?? 0)}: too rare to count`
  return null
}

/** A regular checker without send-state is stale once it misses a few of its own checks. */
function staleAfter(view: LbView, staleMs: number): number {
  if (view.kind !== 'plain' || view.cadenceMs === null) return staleMs
  return Math.min(staleMs, Math.max(CADENCE_STALE_FACTOR * view.cadenceMs, MIN_CADENCE_STALE_MS))
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`
}

function statusText(view: LbView): string {
  if (!view.state) return `answered ${view.answered}`
  const c = view.state.counts
  return c ? `${view.state.status} ${c.current}/${c.total}` : view.state.status
}

/** Why a fresh view made after the state began does not confirm the goal; null when it does. */
function viewBlocker(goal: WaitGoal, view: LbView): string | null {
  const state = view.state
  if (!state) {
    return PLAIN_ANSWERS[goal].includes(view.answered) ? null : `its last check was answered ${view.answered}`
  }
  const inFlight = state.scur.server > 0 || state.qcur > 0
  const work = [
    state.scur.server > 0 ? `${plural(state.scur.server, 'session')} in flight` : '',
    state.qcur > 0 ? `${state.qcur} queued` : '',
  ]
    .filter(Boolean)
    .join(', ')
  const status = statusText(view)
  switch (goal) {
    case 'drained':
      if (state.status === 'NOLB' || state.status === 'DOWN') return inFlight ? `${status} with ${work}` : null
      return state.status === 'UP' ? `still ${status}: it has not acted on the drain yet` : `${status}: not checking`
    case 'down':
      if (state.status === 'DOWN') return null
      if (state.status === 'NOLB') return inFlight ? `${status} with ${work}` : null
      return state.status === 'UP' ? `still ${status}: it has not marked it down yet` : `${status}: not checking`
    case 'ready':
      if (state.status !== 'UP') return `still ${status}`
      if (state.counts) return `${status}: not steadily up yet`
      if (state.weight.server === 0) return 'UP but with weight 0: it gets no new sessions'
      return null
  }
}

function tomcatProgress(inputs: ConfirmationInputs): TomcatProgress | null {
  if (!inputs.tomcat || inputs.goal !== 'drained') return null
  const { signals, maxSessions } = inputs.tomcat
  const limit = maxSessions >= 0 ? maxSessions : null
  const base = {
    busyThreads: signals?.busyThreads ?? null,
    sessions: signals?.sessions ?? null,
    maxSessions: limit,
    at: signals?.at ?? null,
  }
  let why: string | null = null
  if (!signals) why = 'no Tomcat manager reading yet'
  else if (!(Date.parse(signals.at) >= inputs.since)) why = 'no Tomcat manager reading since the drain began'
  else if (signals.busyThreads === null) why = 'Tomcat busy threads unknown'
  else if (signals.busyThreads > 0) why = `Tomcat has ${plural(signals.busyThreads, 'busy request thread')}`
  else if (limit !== null && signals.sessions === null) why = 'Tomcat active sessions unknown'
  else if (limit !== null && signals.sessions !== null && signals.sessions > limit) {
    why = `Tomcat has ${plural(signals.sessions, 'active session')} (at most ${limit} wanted)`
  }
  return { ...base, confirmed: why === null, why }
}

function matchesExpected(view: LbView, name: string): boolean {
  return view.node === name || (view.kind === 'plain' && view.source === name)
}

/** Where one view stands: whether it counts (fresh, a one-off, or neither) and whether it confirms. */
interface ViewStanding {
  view: LbView
  ageMs: number
  stale: boolean
  expected: boolean
  counts: 'fresh' | 'one-off' | 'no'
  /** Why it does not confirm, as a kind: the words are made only for the rows and blockers shown. */
  reason: 'not-counted' | 'stale' | 'disputed' | 'not-since' | 'blocked' | null
  notCounted: string | null
  /** It stands in the way of the goal. */
  blocks: boolean
  inputs: ConfirmationInputs
}

/**
 * viewBlocker's answer for a view's last header, kept until its next check: with thousands of views
 * (made up by anyone who reaches the health listener) the words would otherwise be rebuilt for
 * each of them at every evaluation.
 */
const blockerCache = new WeakMap<LbView, { goal: WaitGoal; state: LbView['state']; answered: number; text: string | null }>()

function cachedBlocker(goal: WaitGoal, view: LbView): string | null {
  const hit = blockerCache.get(view)
  if (hit && hit.goal === goal && hit.state === view.state && hit.answered === view.answered) return hit.text
  const text = viewBlocker(goal, view)
  blockerCache.set(view, { goal, state: view.state, answered: view.answered, text })
  return text
}

function viewStanding(view: LbView, inputs: ConfirmationInputs, sendStateChecking: boolean): ViewStanding {
  const { goal, since, now, staleMs, expect } = inputs
  const ageMs = Math.max(0, now - view.lastCheckAt)
  const expected = expect.length > 0 && expect.some((name) => matchesExpected(view, name))
  const stale = ageMs > (expected ? staleMs : staleAfter(view, staleMs))
  const notCounted = expected ? null : oneOff(view, staleMs, sendStateChecking)
  let reason: ViewStanding['reason'] = null
  if (notCounted) reason = 'not-counted'
  else if (stale) reason = 'stale'
  else if (disputed(view, now, staleMs)) reason = 'disputed'
  else if (view.lastCheckAt <= since) reason = 'not-since'
  else if (cachedBlocker(goal, view) !== null) reason = 'blocked'
  const counts = stale ? 'no' : notCounted ? 'one-off' : 'fresh'
  // A one-off never blocks; a stale view blocks only when its load balancer is expected.
  const blocks = !notCounted && reason !== null && (!stale || expected)
  return { view, ageMs, stale, expected, counts, reason, notCounted, blocks, inputs }
}

/**
 * Another address claimed this view's node within the stale window (and was refused): which of the
 * two is the load balancer cannot be told, so neither confirms. A forger who was there first would
 * otherwise speak for the real load balancer; this way a forgery can hold a wait, never end one.
 */
function disputed(view: LbView, now: number, staleMs: number): boolean {
  const at = view.binding?.disputedAt
  return at != null && now - at <= staleMs
}

function whyText(s: ViewStanding): string | null {
  switch (s.reason) {
    case 'disputed': {
      const binding = s.view.binding as NodeBinding
      const age = seconds(s.inputs.now - (binding.disputedAt as number))
      return `also claimed from ${binding.disputedBy} ${age} ago (refused): it cannot be told from a forgery; limit who counts with --lb-sources`
    }
    case 'not-counted':
      return s.notCounted
    case 'stale':
      return `no check for ${seconds(s.ageMs)}${s.expected ? '' : ' (stale: ignored)'}`
    case 'not-since':
      return `no check since ${BEGAN[s.inputs.goal]}`
    case 'blocked':
      return cachedBlocker(s.inputs.goal, s.view)
    default:
      return null
  }
}

function progressRow(s: ViewStanding): LbProgress {
  const view = s.view
  return {
    lb: view.node ?? view.source,
    server: view.name,
    kind: view.kind,
    source: view.source,
    status: statusText(view),
    scur: view.state?.scur.server ?? null,
    qcur: view.state?.qcur ?? null,
    weight: view.state ? `${view.state.weight.server}/${view.state.weight.farm}` : null,
    throttle: view.state?.throttle ?? null,
    lastCheckAt: new Date(view.lastCheckAt).toISOString(),
    ageMs: s.ageMs,
    checks: view.checks,
    stale: s.stale,
    expected: s.expected,
    oneOff: s.notCounted !== null,
    confirmed: s.reason === null,
    why: whyText(s),
  }
}

function blockerText(s: ViewStanding): string {
  const lb = s.view.node ?? s.view.source
  return `${s.view.name ? `${lb} ${s.view.name}` : lb}: ${whyText(s)}`
}

/** What stands in the way beyond the rows: expected load balancers not heard from, none at all, the agent's own answer. */
function wholeBlockers(inputs: ConfirmationInputs, fresh: number, oneOffs: readonly string[]): string[] {
  const { now, staleMs, expect } = inputs
  const blockers: string[] = []
  for (const name of expect) {
    if (!inputs.views.some((v) => matchesExpected(v, name))) blockers.push(`expected load balancer ${name} has not checked`)
  }
  if (expect.length === 0) {
    const upFor = now - inputs.startedAt
    if (upFor < staleMs) {
      blockers.push(
        `the agent started ${seconds(upFor)} ago: giving every load balancer ${seconds(staleMs)} to check in (or list them with --expect-lb)`,
      )
    } else if (fresh === 0 && !noLoadBalancer(inputs)) {
      const ignored = oneOffs.length > 0 ? ` (one-off requests from ${[...new Set(oneOffs)].join(', ')} are not counted)` : ''
      blockers.push(
        `no load balancer has checked in the last ${seconds(staleMs)}: nothing can confirm this${ignored}; list them with --expect-lb`,
      )
    }
  }
  if (inputs.goal === 'ready' && inputs.answer && inputs.answer.state !== 'ready') {
    blockers.push(`this agent still answers ${inputs.answer.state}${inputs.answer.why ? `: ${inputs.answer.why}` : ''}`)
  }
  return blockers
}

/**
 * The rows a confirmation carries, at most: anyone who reaches the health listener can make up
 * load balancers, and every status, page and wait event would otherwise carry all of them.
 */
export const MAX_LB_ROWS = 32
/** The blockers named in `why`, at most; the rest are counted. */
export const MAX_WHY_BLOCKERS = 8

/** Expected first, then those in the way, then those that count, then the rest. */
function rank(s: ViewStanding): 0 | 1 | 2 | 3 {
  return s.expected ? 0 : s.blocks ? 1 : s.counts === 'fresh' ? 2 : 3
}

/**
 * The `limit` standings that matter most, the latest checks first among equals, in one pass
 * without sorting: the views come oldest first (LbViews.list), so they are read from the end.
 */
function mostRelevant(standings: readonly ViewStanding[], limit: number): ViewStanding[] {
  const buckets: ViewStanding[][] = [[], [], [], []]
  for (let i = standings.length - 1; i >= 0; i--) {
    const s = standings[i] as ViewStanding
    const bucket = buckets[rank(s)] as ViewStanding[]
    if (bucket.length < limit) bucket.push(s)
  }
  return buckets.flat().slice(0, limit)
}

function byName(a: LbProgress, b: LbProgress): number {
  return a.lb < b.lb ? -1 : a.lb > b.lb ? 1 : (a.server ?? '') < (b.server ?? '') ? -1 : (a.server ?? '') > (b.server ?? '') ? 1 : 0
}

/**
 * Whether every load balancer confirms the goal, and for each one why not. Pure: the same inputs
 * give the same answer, so it is tested by table and evaluated as often as checks arrive. Its
 * work is one pass over the views; what it returns is bounded (MAX_LB_ROWS, MAX_WHY_BLOCKERS).
 */
export function confirm(inputs: ConfirmationInputs): Confirmation {
  const { goal, since, now, staleMs, expect } = inputs
  const sendStateChecking = inputs.views.some((v) => v.kind === 'send-state' && now - v.lastCheckAt <= staleMs)
  const standings = inputs.views.map((view) => viewStanding(view, inputs, sendStateChecking))
  const shown = mostRelevant(standings, MAX_LB_ROWS)
  const loadBalancers = shown.map(progressRow).sort(byName)
  let fresh = 0
  const oneOffs = new Set<string>()
  const blocking: ViewStanding[] = []
  for (const s of standings) {
    if (s.counts === 'fresh') fresh++
    else if (s.counts === 'one-off' && oneOffs.size < MAX_WHY_BLOCKERS) oneOffs.add(s.view.node ?? s.view.source)
    if (s.blocks) blocking.push(s)
  }
  const blockers = blocking.slice(0, MAX_WHY_BLOCKERS).map(blockerText)
  if (blocking.length > MAX_WHY_BLOCKERS) blockers.push(`${blocking.length - MAX_WHY_BLOCKERS} more load balancers not confirming`)
  blockers.push(...wholeBlockers(inputs, fresh, [...oneOffs]))
  const missing = expect.filter((name) => !inputs.views.some((v) => matchesExpected(v, name) && now - v.lastCheckAt <= staleMs))
  const tomcat = tomcatProgress(inputs)
  if (tomcat?.why) blockers.push(tomcat.why)
  return {
    goal,
    since: new Date(since).toISOString(),
    at: new Date(now).toISOString(),
    confirmed: blockers.length === 0,
    why: blockers.length === 0 ? null : blockers.join('; '),
    loadBalancers,
    omitted: standings.length - shown.length,
    missing,
    counted: fresh,
    tomcat,
    noLoadBalancer: noLoadBalancer(inputs),
  }
}
