import { formatDuration } from '../state/effective.js'
import type { ManagerSignals, ProbeResult, TomcatStatus } from './status.js'
import { roleOf } from '../tomcat/versions.js'

/** One labelled line of the human status (agentctl status, the status page). */
export type StatusLine = [label: string, text: string]

function describeProbeResult(result: ProbeResult): string {
  const took = `${result.latencyMs} ms`
  return result.ok ? `passed at ${result.at} (HTTP ${result.status} in ${took})` : `failed at ${result.at} after ${took}: ${result.error}`
}

function describeProbe(probe: NonNullable<TomcatStatus['probe']>): StatusLine[] {
  const run = probe.failures > 0 ? `${probe.failures} failed` : `${probe.passes} passed`
  const since = probe.since ? ` since ${probe.since}` : ''
  const lines: StatusLine[] = [
    ['tomcat', `${probe.liveness}${since} (${run} in a row); last probe ${probe.last ? describeProbeResult(probe.last) : 'not done yet'}`],
  ]
  if (probe.last?.ok && probe.lastFailure)
    lines.push(['', `last failure ${describeProbeResult(probe.lastFailure).replace(/^failed /, '')}`])
  lines.push([
    'probe',
    `GET ${probe.url} every ${probe.intervalMs} ms (${probe.fastIntervalMs} ms while drain/down or returning${probe.watchful ? ': now' : ''}), timeout ${probe.timeoutMs} ms, fall ${probe.fall}, rise ${probe.rise}, startup policy ${probe.startupPolicy}`,
  ])
  if (probe.returning)
    lines.push([
      '',
      `back to ready from ${probe.returning.from} since ${probe.returning.since}: ${probe.returning.passes} of ${probe.rise} fresh passing probes`,
    ])
  return lines
}

function describeWarmup(w: NonNullable<TomcatStatus['warmup']>): StatusLine[] {
  const of = w.total === null ? '' : ` of ${w.total}`
  const elapsed = w.elapsedMs === null ? '' : formatDuration(w.elapsedMs)
  const last = w.lastError ? `; last failure: ${w.lastError}` : ''
  let text: string
  switch (w.phase) {
    case 'pending':
      text = `pending: starts when tomcat is up (${w.urls.length} URL(s): ${w.urls.join(', ')})`
      break
    case 'running':
      text = `running for ${elapsed}: ${w.done}${of} requests, ${w.failed} failed${last}`
      break
    case 'passed':
      text = `passed at ${w.finishedAt} in ${elapsed}: ${w.done} requests, ${w.failed} failed`
      break
    case 'ready-anyway':
      text = `finished with ${w.failed} failed of ${w.done} requests (at most ${w.maxFailures} allowed); answering anyway (on failure: ready)${last}`
      break
    case 'failed':
      text = `FAILED: ${w.failed} of ${w.done} requests failed (at most ${w.maxFailures} allowed); staying down, next try at ${w.retryAt ?? 'the next tomcat start'}${last}`
      break
    case 'skipped':
      text = 'skipped: tomcat was already up when the agent started (startup policy admin)'
      break
    default:
      text = 'none'
  }
  const lines: StatusLine[] = [['warm-up', text]]
  const slowest = w.perUrl.filter((u) => u.requests > 0).map((u) => `${u.url} ${u.slowestMs} ms`)
  if (slowest.length > 0) lines.push(['', `slowest answer per URL: ${slowest.join(', ')}`])
  return lines
}

export function describeSignals(signals: ManagerSignals): string {
  if (!signals.at) return 'not polled yet'
  const sessions = signals.sessions
    ? Object.entries(signals.sessions)
        .map(([context, n]) => `${context}=${n}`)
        .join(' ')
    : 'unknown'
  const threads = signals.busyThreads === null ? 'unknown' : String(signals.busyThreads)
  return `busy threads ${threads}, sessions ${sessions} (at ${signals.at})${signals.error ? `; error: ${signals.error}` : ''}`
}

const ROLE_TEXT = { new: 'takes new sessions', old: 'draining', stopped: 'stopped' } as const

/**
 * The deployed versions of each watched context in one line each, when there is more than the
 * unversioned app: `/app: ##002 takes new sessions (1 session); ##001 draining (3 sessions)`.
 */
export function describeVersions(signals: ManagerSignals): StatusLine[] {
  const plural = (n: number) => `${n} session${n === 1 ? '' : 's'}`
  return Object.entries(signals.versions ?? {})
    .filter(([, versions]) => versions.some((v) => v.version !== ''))
    .map(([context, versions]) => {
      const parts = [...versions].reverse().map((v) => {
        const name = v.version ? `##${v.version}` : '(no version)'
        return `${name} ${ROLE_TEXT[roleOf(versions, v)]} (${plural(v.sessions)})`
      })
      return ['versions', `${context}: ${parts.join('; ')}`] as StatusLine
    })
}

/** The Tomcat part of the human status: liveness and last probe, warm-up progress, manager signals. */
export function describeTomcat(tomcat: TomcatStatus | undefined): StatusLine[] {
  if (!tomcat) return []
  const lines: StatusLine[] = tomcat.probe
    ? describeProbe(tomcat.probe)
    : [['tomcat', 'not probed (no --tomcat-url): the answer is the admin state alone']]
  if (tomcat.warmup) lines.push(...describeWarmup(tomcat.warmup))
  if (tomcat.manager) {
    const m = tomcat.manager
    const when = m.polling ? `polled every ${m.pollMs} ms while draining` : 'polled only while the admin state is drain or down'
    lines.push(['manager', `${describeSignals(m.signals)}; ${when}`], ...describeVersions(m.signals))
  }
  return lines
}
