import type { TomcatSignals } from '../lb/tomcat-signals.js'
import type { ManagerSignals } from '../tomcat/manager.js'

/** The manager's reading as the drain confirmation wants it: sessions of all watched contexts added up. */
export function managerSignalsForDrain(signals: ManagerSignals): TomcatSignals | null {
  if (!signals.at) return null
  const sessions = signals.sessions ? Object.values(signals.sessions).reduce((a, b) => a + b, 0) : null
  return { busyThreads: signals.busyThreads, sessions, at: signals.at }
}
