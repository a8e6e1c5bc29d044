/**
 * HAProxy's `http-check send-state` header (`X-Haproxy-Server-State`): one load balancer's view
 * of this server, sent with every check. Observed on HAProxy 2.6:
 *
 *   UP; address=127.0.0.1; port=18082; name=be/t2; node=lb1; weight=1/3; scur=10/30; qcur=0
 *   NOLB 1/3; address=127.0.0.1; port=; name=be/t1; node=lb1; weight=1/0; scur=2/2; qcur=0; throttle=10%
 *
 * The status reflects what HAProxy believed before this check: the answer to this check shows up
 * in the next one.
 */

export const LB_STATUSES = ['UP', 'DOWN', 'NOLB', 'no check'] as const
export type LbStatus = (typeof LB_STATUSES)[number]

export interface ServerState {
  status: LbStatus
  /** `UP 2/3` (going down: 2 more failures of 3 to DOWN), `DOWN 1/2` (going up); null when settled. */
  counts: { current: number; total: number } | null
  /** The server's address and port as HAProxy knows them (the Tomcat, not the agent); port is empty for a Unix socket. */
  address: string
  port: string
  /** `backend/server` */
  name: string
  /** The load balancer's `node` setting (its hostname by default). */
  node: string
  weight: { server: number; farm: number }
  /** Concurrent streams: on this server, and on the whole backend. */
  scur: { server: number; backend: number }
  qcur: number
  /** Slow-start percentage, present only while ramping up. */
  throttle: number | null
}

/** Longer than any real header by far; anything longer is junk and not worth a regex run. */
export const MAX_HEADER_LENGTH = 1024

// Digits are bounded so that every number parses exactly; fields hold no `;`.
const N = '(\\d{1,15})'
const SEND_STATE = new RegExp(
  `^(UP|DOWN|NOLB|no check)(?: ${N}/${N})?; address=([^;]*); port=([^;]*); name=([^;]*); node=([^;]*); ` +
    `weight=${N}/${N}; scur=${N}/${N}; qcur=${N}(?:; throttle=${N}%)?$`,
)

/**
 * Parses one header value; null for anything that is not a send-state header (never throws).
 * A header without a `node` or `name` is refused: a view is keyed by both.
 */
export function parseServerState(value: unknown): ServerState | null {
  if (typeof value !== 'string' || value.length > MAX_HEADER_LENGTH) return null
  const m = SEND_STATE.exec(value)
  if (!m) return null
  const [, status, cur, tot, address, port, name, node, w, wf, s, sb, q, throttle] = m as unknown as Array<string | undefined>
  if (!name || !node) return null
  return {
    status: status as LbStatus,
    counts: cur !== undefined && tot !== undefined ? { current: Number(cur), total: Number(tot) } : null,
    address: address ?? '',
    port: port ?? '',
    name,
    node,
    weight: { server: Number(w), farm: Number(wf) },
    scur: { server: Number(s), backend: Number(sb) },
    qcur: Number(q),
    throttle: throttle === undefined ? null : Number(throttle),
  }
}

/** The header HAProxy would send for `state`; parseServerState(formatServerState(s)) gives s back. */
export function formatServerState(state: ServerState): string {
  const counts = state.counts ? ` ${state.counts.current}/${state.counts.total}` : ''
  const throttle = state.throttle === null ? '' : `; throttle=${state.throttle}%`
  return (
    `${state.status}${counts}; address=${state.address}; port=${state.port}; name=${state.name}; node=${state.node}; ` +
    `weight=${state.weight.server}/${state.weight.farm}; scur=${state.scur.server}/${state.scur.backend}; qcur=${state.qcur}${throttle}`
  )
}
