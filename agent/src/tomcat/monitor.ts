import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { TomcatFacts, WarmupPhase } from '../state/effective.js'
import type { AdminState } from '../state/model.js'
import { INITIAL_TRACK, advance, type Liveness, type ProbeTrack } from './liveness.js'
import { NO_SIGNALS, type ManagerSignals } from './manager.js'
import type { TomcatMetrics } from './metrics.js'
import { probeTomcat, type ProbeResult } from './probe.js'
import { readTomcatIdentity } from './pid-file.js'
import { adminChanged, INITIAL_GATE, probed, watchful, type ReturnGate } from './return-gate.js'
import { contextOf, type TomcatSettings } from './settings.js'
import { SignalsPoller } from './signals.js'
import { takerOf } from './versions.js'
import { runWarmup, type WarmupProgress } from './warmup.js'
import type { TomcatStatus } from '../protocol/status.js'
export type { TomcatStatus }

const MAX_WARMUP_RETRY_MS = 60_000

type MonitorEvents = { change: [cause: 'probe' | 'warmup'] }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/**
 * Watches Tomcat for the agent: probes it every interval (never on a health check's path),
 * folds the results into up/down with rise/fall, runs the warm-up after it comes up, and polls
 * the manager while the admin state is drain or down. Emits 'change' whenever the facts that
 * decide the answer move; the agent then recomputes its verdict.
 */
export class TomcatMonitor extends EventEmitter<MonitorEvents> {
  private readonly settings: TomcatSettings
  private readonly log: Logger
  private readonly metrics: TomcatMetrics
  private readonly stopping = new AbortController()
  private track: ProbeTrack = INITIAL_TRACK
  private gate: ReturnGate = INITIAL_GATE
  private wakeUp: AbortController | null = null
  /** The Tomcat process the PID file named at the last probe (see pid-file.ts). */
  private identity: string | null = null
  private last: ProbeResult | null = null
  private lastFailure: ProbeResult | null = null
  private warmupPhase: WarmupPhase
  private warmupProgress: WarmupProgress | null = null
  private warmupFinishedAt: number | null = null
  private warmupAbort: AbortController | null = null
  private warmupRetry: NodeJS.Timeout | null = null
  private warmupRetryAt: number | null = null
  private warmupRetryMs: number
  private readonly manager: SignalsPoller | null
  /** The admin state asks for manager readings (drain or down). */
  private managerWanted = false
  /** The newest version of the watched context at the last reading; undefined before the first. */
  private newest: string | null | undefined = undefined
  /** The newest version when the last warm-up began. */
  private warmupVersion: string | null = null
  /** The warm-up under way (or failed) is for a version deployed beside a running one, without a restart. */
  private newVersionWarmup = false
  private readonly running = new Set<Promise<unknown>>()

  constructor(options: { settings: TomcatSettings; logger: Logger; metrics: TomcatMetrics }) {
    super()
    this.settings = options.settings
    this.log = options.logger.child({ component: 'tomcat' })
    this.metrics = options.metrics
    this.warmupPhase = this.settings.warmup ? 'pending' : 'none'
    this.warmupRetryMs = this.settings.probe?.intervalMs ?? 1000
    this.manager = this.settings.manager
      ? new SignalsPoller({
          settings: this.settings.manager,
          logger: this.log,
          metrics: this.metrics,
          onSignals: (signals) => this.onSignals(signals),
        })
      : null
  }

  /** Starts probing at once; says in the log what is (and is not) watched. */
  start(): void {
    const { probe, warmup, manager } = this.settings
    if (!probe) {
      this.log.info('tomcat probe: none (no --tomcat-url): the answer follows the admin state alone')
    } else {
      this.metrics.setLiveness('unknown')
      this.log.info(
        {
          url: probe.url,
          intervalMs: probe.intervalMs,
          timeoutMs: probe.timeoutMs,
          fall: probe.fall,
          rise: probe.rise,
          startupPolicy: this.settings.startupPolicy,
        },
        `tomcat probe: GET ${probe.url} every ${probe.intervalMs} ms (timeout ${probe.timeoutMs} ms, fall ${probe.fall}, rise ${probe.rise}); ` +
          (this.settings.startupPolicy === 'down'
            ? 'answering down until it passes'
            : 'answering the admin state until a probe says otherwise'),
      )
      this.keep(this.probeLoop())
    }
    if (warmup) {
      this.log.info(
        { urls: warmup.urls, requests: warmup.requests, durationMs: warmup.durationMs, concurrency: warmup.concurrency },
        `tomcat warm-up: ${warmup.urls.length} URL(s) before answering 200`,
      )
    }
    if (manager) {
      // The credentials file is named, its content never appears.
      this.log.info(
        { url: manager.url, contexts: manager.contexts, pollMs: manager.pollMs, credentialsFile: manager.credentialsFile },
        'tomcat manager: polled while the admin state is drain or down',
      )
    }
  }

  async close(): Promise<void> {
    this.stopping.abort()
    this.warmupAbort?.abort()
    if (this.warmupRetry) clearTimeout(this.warmupRetry)
    await Promise.allSettled([...this.running, this.manager?.close()])
  }

  /** Remembers a background task until it settles, so that close() can wait for it. */
  private keep(task: Promise<unknown>): void {
    const settled = task
      .catch((err: unknown) => this.log.error({ err }, 'tomcat monitor task failed'))
      .finally(() => this.running.delete(settled))
    this.running.add(settled)
  }

  /** The facts the verdict is decided from; null when Tomcat is not probed. */
  facts(): TomcatFacts | null {
    const probe = this.settings.probe
    if (!probe) return null
    const progress = this.warmupProgress
    return {
      startupPolicy: this.settings.startupPolicy,
      liveness: this.track.liveness,
      since: this.track.since,
      passes: this.track.passes,
      failures: this.track.failures,
      rise: probe.rise,
      fall: probe.fall,
      lastError: this.track.lastError,
      returning: this.gate.returning && { from: this.gate.returning.from, passes: this.gate.returning.passes },
      warmup: {
        phase: this.warmupPhase,
        done: progress?.done ?? 0,
        failed: progress?.failed ?? 0,
        total: progress ? progress.total : null,
        maxFailures: this.settings.warmup?.maxFailures ?? 0,
        lastError: progress?.lastError ?? null,
        retryAt: this.warmupRetryAt,
        newVersion: this.newVersionWarmup ? this.warmupVersion : null,
      },
    }
  }

  /** Busy threads and sessions from the manager, as last polled (all null without a manager). */
  signals(): ManagerSignals {
    return this.manager?.signals() ?? NO_SIGNALS
  }

  /**
   * The manager is polled only while the server is being drained or is out. Leaving drain or down
   * for ready opens the return gate; any change of watchfulness starts a probe at once.
   */
  setAdminState(state: AdminState | null): void {
    this.managerWanted = state === 'drain' || state === 'down'
    this.manager?.setActive(this.managerWanted || this.oldVersionsDraining(this.signals()))
    const before = this.gate
    this.gate = adminChanged(this.gate, state, Date.now())
    if (this.gate === before || !this.settings.probe) return
    if (this.gate.returning) {
      this.log.info(
        { from: this.gate.returning.from, rise: this.settings.probe.rise },
        `back to ready from ${this.gate.returning.from}: answering ${this.gate.returning.from} until ${this.settings.probe.rise} probes begun from now have passed`,
      )
    }
    // No 'change' here: the caller recomputes the verdict with the admin change itself.
    this.wakeUp?.abort()
  }

  status(): TomcatStatus {
    const { probe, warmup, manager } = this.settings
    const progress = this.warmupProgress
    return {
      probe: probe && {
        url: probe.url,
        intervalMs: probe.intervalMs,
        fastIntervalMs: probe.fastIntervalMs,
        pidFile: probe.pidFile,
        watchful: watchful(this.gate),
        returning: this.gate.returning && {
          from: this.gate.returning.from,
          since: new Date(this.gate.returning.since).toISOString(),
          passes: this.gate.returning.passes,
        },
        timeoutMs: probe.timeoutMs,
        fall: probe.fall,
        rise: probe.rise,
        startupPolicy: this.settings.startupPolicy,
        liveness: this.track.liveness,
        since: iso(this.track.since),
        passes: this.track.passes,
        failures: this.track.failures,
        last: this.last,
        lastFailure: this.lastFailure,
      },
      warmup: warmup && {
        urls: warmup.urls,
        phase: this.warmupPhase,
        version: this.warmupVersion,
        startedAt: iso(progress?.startedAt ?? null),
        finishedAt: iso(this.warmupFinishedAt),
        elapsedMs: progress ? (this.warmupFinishedAt ?? Date.now()) - progress.startedAt : null,
        done: progress?.done ?? 0,
        failed: progress?.failed ?? 0,
        total: progress ? progress.total : warmup.durationMs > 0 ? null : warmup.urls.length * warmup.requests,
        maxFailures: warmup.maxFailures,
        onFailure: warmup.onFailure,
        lastError: progress?.lastError ?? null,
        retryAt: iso(this.warmupRetryAt),
        perUrl: progress?.perUrl ?? [],
      },
      manager: manager && {
        url: manager.url,
        contexts: manager.contexts,
        pollMs: manager.pollMs,
        polling: this.manager?.polling ?? false,
        signals: this.signals(),
      },
    }
  }

  private async probeLoop(): Promise<void> {
    const probe = this.settings.probe
    if (!probe) return
    const signal = this.stopping.signal
    while (!signal.aborted) {
      const started = Date.now()
      const result = await probeTomcat(probe, signal)
      const replaced = probe.pidFile ? await this.processReplaced(probe.pidFile) : null
      if (signal.aborted) return
      this.onProbe(result, replaced)
      const intervalMs = watchful(this.gate) ? probe.fastIntervalMs : probe.intervalMs
      // An admin change wakes the loop: the first probe of a return begins right after it.
      const wake = new AbortController()
      this.wakeUp = wake
      try {
        await sleep(Math.max(0, intervalMs - (Date.now() - started)), undefined, {
          signal: AbortSignal.any([signal, wake.signal]),
          ref: false,
        })
      } catch {
        if (signal.aborted) return
      } finally {
        this.wakeUp = null
      }
    }
  }

  /** A positive restart signal: the PID file names another process than at the last probe. */
  private async processReplaced(pidFile: string): Promise<string | null> {
    const identity = await readTomcatIdentity(pidFile)
    if (identity === null) return null
    const before = this.identity
    this.identity = identity
    return before !== null && before !== identity
      ? `${pidFile} names a new process (${identity.split('@')[0]}, was ${before.split('@')[0]})`
      : null
  }

  private onProbe(result: ProbeResult, replaced: string | null = null): void {
    const probe = this.settings.probe
    if (!probe) return
    const before = this.track.liveness
    const at = Date.parse(result.at)
    const wasWatchful = watchful(this.gate)
    // Watchful, one lost connection is a restart: the next stop-and-start may be over before fall probes.
    const lost = wasWatchful && result.connectionLost && before !== 'down'
    // A new process is a restart whatever the probe said: it may serve before it is warm.
    const outcome = replaced ? { ok: false, at, error: `tomcat restarted: ${replaced}` } : { ok: result.ok, at, error: result.error }
    const restarted = lost || replaced !== null
    this.track = advance(this.track, outcome, { rise: probe.rise, fall: restarted ? 1 : probe.fall })
    const returning = this.gate.returning
    this.gate = probed(this.gate, { ok: outcome.ok, at }, probe.rise)
    if (returning && !this.gate.returning) {
      this.log.info(
        { from: returning.from, passes: probe.rise },
        `back to ready from ${returning.from}: ${probe.rise} probes begun since have passed`,
      )
    }
    if (replaced)
      this.log.warn({ pidFile: probe.pidFile }, `tomcat restarted: ${replaced}; it must pass ${probe.rise} probes and the warm-up again`)
    else if (lost)
      this.log.warn(
        { error: result.error },
        `tomcat connection lost while ${this.gate.admin === 'ready' ? 'returning to ready' : this.gate.admin}: taken as a restart (${result.error}); it must pass ${probe.rise} probes and the warm-up again`,
      )
    this.last = result
    if (!result.ok) this.lastFailure = result
    this.metrics.probe(result)
    const after = this.track.liveness
    if (!result.ok && this.track.failures === 1 && after !== 'down') {
      this.log.info(
        { error: result.error, latencyMs: result.latencyMs },
        `tomcat probe failed (${after === 'up' ? `down after ${probe.fall} in a row` : 'not up yet'}): ${result.error}`,
      )
    } else {
      this.log.debug({ ok: result.ok, status: result.status, latencyMs: result.latencyMs, error: result.error }, 'tomcat probe')
    }
    if (after !== before) {
      this.metrics.setLiveness(after)
      if (after === 'down') this.onDown({ ...result, error: outcome.error })
      else if (after === 'up') this.onUp(before)
    }
    this.emit('change', 'probe')
  }

  private onDown(result: ProbeResult): void {
    this.log.warn(
      { error: result.error, failures: this.track.failures },
      `tomcat is down: ${this.track.failures} failed probes in a row, last: ${result.error}`,
    )
    this.cancelWarmup()
    this.newVersionWarmup = false
    this.warmupPhase = this.settings.warmup ? 'pending' : 'none'
    this.warmupRetryMs = this.settings.probe?.intervalMs ?? 1000
  }

  /** The context whose versions the warm-up and the probe follow: the probe's, else the first watched. */
  private watchedContext(): string | null {
    const { probe, manager } = this.settings
    return probe ? contextOf(probe.url) : (manager?.contexts[0] ?? null)
  }

  private oldVersionsDraining(signals: ManagerSignals): boolean {
    return Object.values(signals.versions ?? {}).some((versions) => versions.length > 1)
  }

  /**
   * Each manager reading: a new newest version of the watched context (parallel deployment) gets
   * the warm-up before it answers 200, and the manager is read as long as old versions drain.
   */
  private onSignals(signals: ManagerSignals): void {
    const context = this.watchedContext()
    const listed = context === null ? undefined : signals.versions?.[context]
    const taker = listed ? takerOf(listed) : null
    if (context !== null && taker) {
      const newest = taker.version
      const before = this.newest
      this.newest = newest
      if (before !== undefined && newest !== before) this.onNewVersion(context, before, newest)
    }
    this.manager?.setActive(this.managerWanted || this.oldVersionsDraining(signals))
  }

  private onNewVersion(context: string, before: string | null, newest: string | null): void {
    const name = (v: string | null) => (v ? `${context}##${v}` : context)
    const older = before !== null && newest !== null && newest < before ? ' (an older one: a rollback)' : ''
    if (!this.settings.warmup || this.track.liveness !== 'up') {
      this.warmupVersion = newest
      this.log.info({ context, version: newest, was: before }, `${name(newest)} now takes new sessions${older}, was ${name(before)}`)
      return
    }
    this.log.info(
      { context, version: newest, was: before },
      `${name(newest)} now takes new sessions${older}, was ${name(before)}: warming it up; answering drain at most until it passes`,
    )
    this.startWarmup(true)
  }

  private onUp(before: Liveness): void {
    const warmup = this.settings.warmup
    if (before === 'unknown' && this.settings.startupPolicy === 'admin') {
      this.warmupPhase = warmup ? 'skipped' : 'none'
      this.log.info(
        `tomcat is up (${this.track.passes} passing probes); startup policy admin: no warm-up for a Tomcat that was already running`,
      )
      return
    }
    this.log.info(
      { passes: this.track.passes, was: before },
      `tomcat is up: ${this.track.passes} passing probes${warmup ? '; warming it up before answering 200' : ''}`,
    )
    if (warmup) this.startWarmup(false)
  }

  private cancelWarmup(): void {
    this.warmupAbort?.abort()
    this.warmupAbort = null
    if (this.warmupRetry) clearTimeout(this.warmupRetry)
    this.warmupRetry = null
    this.warmupRetryAt = null
  }

  private startWarmup(newVersion: boolean): void {
    const settings = this.settings.warmup
    if (!settings) return
    this.cancelWarmup()
    this.newVersionWarmup = newVersion
    this.warmupVersion = this.newest ?? null
    const abort = new AbortController()
    this.warmupAbort = abort
    this.warmupPhase = 'running'
    this.warmupFinishedAt = null
    this.warmupProgress = null
    const run = runWarmup(settings, {
      signal: AbortSignal.any([abort.signal, this.stopping.signal]),
      onRequest: (progress, ok) => {
        if (this.warmupAbort !== abort) return
        this.warmupProgress = progress
        this.metrics.warmupRequest(ok)
        if (!ok) this.log.warn({ error: progress.lastError }, `tomcat warm-up request failed: ${progress.lastError}`)
        this.emit('change', 'warmup')
      },
    }).then(({ outcome, progress }) => {
      const seconds = (Date.now() - progress.startedAt) / 1000
      this.metrics.warmupFinished(outcome, seconds)
      // Aborted: Tomcat went down (or the agent is closing), and whoever aborted it set the phase.
      if (outcome === 'aborted' || this.warmupAbort !== abort) return
      this.warmupAbort = null
      this.warmupProgress = progress
      this.warmupFinishedAt = Date.now()
      const summary = { done: progress.done, failed: progress.failed, seconds, perUrl: progress.perUrl }
      if (outcome === 'unreachable') {
        // Tomcat was not there for a moment (a restart the probe may not have seen): no request
        // before it says anything about the Tomcat now running, so the warm-up starts over.
        this.warmupPhase = 'failed'
        const wait = this.scheduleWarmupRetry()
        this.log.error(
          summary,
          `tomcat warm-up stopped: Tomcat could not be reached (${progress.lastError}); staying down, warming up again from the start in ${wait} ms`,
        )
      } else if (outcome === 'passed') {
        this.warmupPhase = 'passed'
        this.warmupRetryMs = this.settings.probe?.intervalMs ?? 1000
        this.log.info(summary, `tomcat warm-up done in ${seconds.toFixed(1)} s: ${progress.done} requests, ${progress.failed} failed`)
      } else if (settings.onFailure === 'ready') {
        this.warmupPhase = 'ready-anyway'
        this.log.warn(
          summary,
          `tomcat warm-up had ${progress.failed} failed requests (at most ${settings.maxFailures} allowed); answering the admin state anyway (--warmup-on-failure ready)`,
        )
      } else {
        this.warmupPhase = 'failed'
        const wait = this.scheduleWarmupRetry()
        this.log.error(
          summary,
          `tomcat warm-up failed: ${progress.failed} failed requests (at most ${settings.maxFailures} allowed), last: ${progress.lastError}; staying down, trying again in ${wait} ms`,
        )
      }
      this.emit('change', 'warmup')
    })
    this.keep(run)
    this.emit('change', 'warmup')
  }

  /** A failed warm-up is tried again while Tomcat stays up, the wait doubling up to a minute. */
  private scheduleWarmupRetry(): number {
    const wait = this.warmupRetryMs
    this.warmupRetryMs = Math.min(wait * 2, MAX_WARMUP_RETRY_MS)
    this.warmupRetryAt = Date.now() + wait
    this.warmupRetry = setTimeout(() => {
      this.warmupRetry = null
      this.warmupRetryAt = null
      if (this.track.liveness === 'up' && !this.stopping.signal.aborted) this.startWarmup(this.newVersionWarmup)
    }, wait)
    this.warmupRetry.unref()
    return wait
  }
}
