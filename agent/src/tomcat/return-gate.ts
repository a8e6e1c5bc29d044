import type { AdminState } from '../state/model.js'

/**
 * Leaving drain or down for ready needs fresh evidence: a Tomcat restart (about 0.1 s to stop,
 * 1.5-2 s to start) is shorter than the probe's fall x interval, so a probe that passed before the
 * change says nothing about the Tomcat that will get the traffic. The gate holds the answer at the
 * state being left until `rise` probes that began after the change have passed in a row.
 */
export interface ReturnGate {
  /** The admin state as last told; null before the state file was read. */
  admin: AdminState | null
  /** Set while a return to ready waits for fresh passing probes. */
  returning: { from: 'drain' | 'down'; since: number; passes: number } | null
}

export const INITIAL_GATE: ReturnGate = { admin: null, returning: null }

export function adminChanged(gate: ReturnGate, state: AdminState | null, at: number): ReturnGate {
  if (state === gate.admin) return gate
  if (state === 'ready' && (gate.admin === 'drain' || gate.admin === 'down')) {
    return { admin: state, returning: { from: gate.admin, since: at, passes: 0 } }
  }
  return { admin: state, returning: null }
}

/** Folds a probe result in: only a probe that began at or after the change counts; a failure starts the count over. */
export function probed(gate: ReturnGate, result: { ok: boolean; at: number }, rise: number): ReturnGate {
  const r = gate.returning
  if (!r || result.at < r.since) return gate
  if (!result.ok) return r.passes === 0 ? gate : { ...gate, returning: { ...r, passes: 0 } }
  const passes = r.passes + 1
  return { ...gate, returning: passes >= rise ? null : { ...r, passes } }
}

/**
 * While the admin state is not ready, or a return to ready is pending, Tomcat may be restarted at
 * any moment: the monitor probes faster then, and takes one lost connection as a restart.
 */
export function watchful(gate: ReturnGate): boolean {
  return gate.returning !== null || gate.admin === 'drain' || gate.admin === 'down'
}
