/** What the probes say about Tomcat: unknown until `rise` passes or `fall` failures in a row. */
export type Liveness = 'unknown' | 'up' | 'down'

/** The probe history that matters, folded: HAProxy's rise/fall hysteresis, kept by the agent. */
export interface ProbeTrack {
  liveness: Liveness
  /** Passing probes in a row (0 after a failure). */
  passes: number
  /** Failed probes in a row (0 after a pass). */
  failures: number
  /** When the current run of passes or failures began (ms since the epoch). */
  runStart: number | null
  /** When the liveness became what it is: the start of the run that decided it; null while unknown. */
  since: number | null
  /** Why the last failed probe failed. */
  lastError: string | null
}

export const INITIAL_TRACK: ProbeTrack = { liveness: 'unknown', passes: 0, failures: 0, runStart: null, since: null, lastError: null }

/**
 * Folds one probe result into the track: down after `fall` failures in a row, up after `rise`
 * passes in a row, otherwise unchanged. Pure, so the rules are tested by tables.
 */
export function advance(
  track: ProbeTrack,
  result: { ok: boolean; at: number; error: string | null },
  limits: { fall: number; rise: number },
): ProbeTrack {
  const sameRun = result.ok ? track.passes > 0 : track.failures > 0
  const next: ProbeTrack = {
    ...track,
    passes: result.ok ? track.passes + 1 : 0,
    failures: result.ok ? 0 : track.failures + 1,
    runStart: sameRun && track.runStart !== null ? track.runStart : result.at,
    lastError: result.ok ? track.lastError : result.error,
  }
  if (next.liveness !== 'up' && next.passes >= limits.rise) {
    next.liveness = 'up'
    next.since = next.runStart
  } else if (next.liveness !== 'down' && next.failures >= limits.fall) {
    next.liveness = 'down'
    next.since = next.runStart
  }
  return next
}
