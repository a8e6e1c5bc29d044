/**
 * What a drain confirmation needs from Tomcat's manager app, once a probe provides it
 * (`/manager/status?XML=true` for busy threads, `/manager/text/sessions` for sessions).
 * The agent works without it: with no provider, a drain is confirmed by the load balancers alone.
 */
export interface TomcatSignals {
  /**
   * Request threads busy serving requests (connector `currentThreadsBusy`), not counting the
   * manager request that measured it; null when the last reading failed.
   */
  busyThreads: number | null
  /** Active HTTP sessions of the application; null when unknown. */
  sessions: number | null
  /** ISO time of the reading: only a reading taken after the drain began counts. */
  at: string
}

/** Returns the latest reading, or null while there is none yet. Called often: it must not do I/O. */
export type TomcatSignalsProvider = () => TomcatSignals | null
