/**
 * What a drain confirmation needs from Tomcat's manager app (`/manager/status?XML=true` for busy
 * threads, `/manager/text/sessions` for sessions), read by tomcat/signals.ts while the admin state
 * is drain or down. Without --tomcat-manager-url there is no provider, and a drain is confirmed by
 * the load balancers alone.
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
