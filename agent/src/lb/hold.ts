import type { ServerState } from './send-state.js'

/**
 * A load balancer may let the agent hold its check open until something changes: HAProxy sends
 * `http-check send hdr X-Health-Hold 1000` and sets `timeout check` above it. A held check is
 * answered at once when the answer changes, so HAProxy acts on a drain, a failure or a return the
 * moment the agent knows it, instead of at its next `inter`; with nothing changing it is answered
 * after the hold, with the answer of that moment.
 */
export const HOLD_HEADER = 'x-health-hold'

/** The longest hold a header may ask for, whatever the agent's own limit. */
export const MAX_HOLD_HEADER_MS = 60_000

/**
 * How long the checker lets the agent hold: `1000`, `1000ms` or `1s`; null when absent or not a
 * duration (the check is then answered at once, as for any checker that does not ask).
 */
export function parseHoldHeader(value: string | string[] | undefined): number | null {
  const text = Array.isArray(value) ? value[0] : value
  if (text === undefined || text.length > 16) return null
  const m = /^\s*(\d{1,6})\s*(ms|s)?\s*$/i.exec(text)
  if (!m) return null
  const ms = Number(m[1]) * (m[2]?.toLowerCase() === 's' ? 1000 : 1)
  return ms > 0 && ms <= MAX_HOLD_HEADER_MS ? ms : null
}

/**
 * Whether the load balancer already shows what the answer would tell it, with no check count in
 * progress: UP for 200; NOLB or DOWN for 404 (a DOWN server answering 404 stays DOWN); DOWN for
 * anything else. A view that is moving (`UP 1/2`, `DOWN 1/2`) or that differs from the answer
 * must hear the answer at once: holding it would slow down exactly the change it is making.
 */
export function settledOn(state: ServerState, httpStatus: number): boolean {
  if (state.counts !== null) return false
  if (httpStatus === 200) return state.status === 'UP'
  if (httpStatus === 404) return state.status === 'NOLB' || state.status === 'DOWN'
  return state.status === 'DOWN'
}

export interface HoldInputs {
  /** What the header asked for (parseHoldHeader), null if nothing. */
  requestedMs: number | null
  /** The agent's own limit (checkHoldMaxMs); 0 never holds. */
  maxMs: number
  /** This load balancer's own limit, learnt when it hung up on a held check (see holdCapAfterCut); null if none. */
  capMs: number | null
  /** The check's send-state header, parsed; a checker without one is never held. */
  state: ServerState | null
  /** What the agent answers now. */
  httpStatus: number
  /** A wait needs this load balancer's next view soon (it still shows sessions on a draining server). */
  wantedSoon: boolean
}

/** How long to hold this check; 0 answers it now. */
export function holdMs(inputs: HoldInputs): number {
  const { requestedMs, maxMs, state } = inputs
  if (requestedMs === null || maxMs <= 0 || state === null) return 0
  if (inputs.wantedSoon || !settledOn(state, inputs.httpStatus)) return 0
  return Math.min(requestedMs, maxMs, inputs.capMs ?? Infinity)
}

/**
 * A load balancer hung up on a check held `heldMs`: its `timeout check` is shorter than the hold
 * it asked for (or it was reloading). Its checks are held at most half as long from then on, so
 * that a hold never costs it a failed check twice; under MIN_USEFUL_HOLD_MS they are not held.
 */
export function holdCapAfterCut(heldMs: number, capMs: number | null): number {
  const cap = Math.floor(heldMs / 2)
  const next = cap < MIN_USEFUL_HOLD_MS ? 0 : cap
  return capMs === null ? next : Math.min(capMs, next)
}

/** A hold shorter than this saves the load balancer little and risks its timeout: answer at once. */
export const MIN_USEFUL_HOLD_MS = 100
