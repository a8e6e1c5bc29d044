import { EventEmitter } from 'node:events'
import { mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import type { Logger } from 'pino'
import { AgentError } from '../errors.js'
import type { AuditEntry, AuditLog, ChangeSource } from './audit.js'
import { removeStaleTempFiles, writeFileAtomic } from './atomic-write.js'
import { formatStateRecord, parseStateText, sameRecord, type AdminState, type StateRecord } from './model.js'
import { readStateFile } from './read-file.js'
import type { FileProblem, FileProblemKind } from '../protocol/status.js'
export type { FileProblem, FileProblemKind }

/** A state to write: `until` (ISO) when a drain or down ends by itself. */
export interface StateInput {
  state: AdminState
  reason?: string
  by?: string
  until?: string
}

export interface StateChange {
  from: StateRecord | null
  to: StateRecord
  source: ChangeSource
}

export interface StateStoreOptions {
  path: string
  initialState: AdminState
  pollMs: number
  audit: AuditLog
  logger: Logger
  /** How long a bad read may last before it is reported: a shell's truncate-then-write is empty for a moment. */
  problemGraceMs?: number
}

const CHOKIDAR_THROTTLE_MS = 50

/** `committed`: a state reached the file and the audit log (an early drain's `change` comes before it). */
type StoreEvents = { change: [StateChange]; problem: [FileProblem | null]; committed: [StateRecord] }

/**
 * The admin state, kept in one shell-writable file. The file is the single source of truth:
 * API writes go through it (atomically), and every other write to it, in place, truncate-then-write,
 * rename over, delete and recreate, is picked up by chokidar (with a stat poll as a safety net).
 * A read that does not parse never replaces the last good state: it becomes a reported problem.
 *
 * A state is audited once, when it reaches the file: an API write appends its entry and renames
 * its file in one synchronous step, and a shell write is audited when it is read. A drain or a
 * down asked through the API is answered while its file is written (`early`), and taken back,
 * unaudited, if the write fails.
 */
export class StateStore extends EventEmitter<StoreEvents> {
  readonly path: string
  private readonly options: StateStoreOptions
  private readonly log: Logger
  /** The state the file holds, as last read or written, and audited (or its entry kept in order). */
  private committed: StateRecord | null = null
  /** An API drain or down being written: in force until its write ends. */
  private early: StateRecord | null = null
  private readProblem: FileProblem | null = null
  private writeProblem: FileProblem | null = null
  private pendingProblem: NodeJS.Timeout | null = null
  private lastSignature = ''
  private watcher: FSWatcher | null = null
  private poller: NodeJS.Timeout | null = null
  private trailingCheck: NodeJS.Timeout | null = null
  private writes: Promise<unknown> = Promise.resolve()

  constructor(options: StateStoreOptions) {
    super()
    this.options = options
    this.path = options.path
    this.log = options.logger.child({ component: 'state' })
  }

  /** The admin state in force; null only when the file has never been readable since start. */
  get current(): StateRecord | null {
    return this.early ?? this.committed
  }

  get problem(): FileProblem | null {
    return this.readProblem ?? this.writeProblem
  }

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true })
    const stale = removeStaleTempFiles(this.path)
    if (stale.length > 0) this.log.warn({ files: stale }, `removed ${stale.length} temp file(s) left by an interrupted state write`)
    await this.loadAtStart()
    // The folder, not the file: the file is replaced by rename (this agent's atomic writes, editors,
    // mv), and a watch on the file follows its inode, which chokidar re-attaches asynchronously after
    // each replacement; after a few hundred quick ones (admin API changes) it was left on a deleted
    // inode and heard nothing more, so that writes were seen only by the poll.
    const folder = dirname(this.path)
    this.watcher = watch(folder, {
      ignoreInitial: true,
      atomic: false,
      persistent: true,
      depth: 0,
      ignored: (path) => path !== folder && path !== this.path,
    })
    this.watcher.on('all', (_event, path) => {
      if (path === this.path) this.onFileEvent()
    })
    this.watcher.on('error', (err) => this.log.warn({ err }, 'state file watcher error; polling continues'))
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()))
    // A write between the first read and the watcher being ready would otherwise go unseen.
    this.check()
    this.poller = setInterval(() => this.poll(), this.options.pollMs)
    this.poller.unref()
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller)
    if (this.pendingProblem) clearTimeout(this.pendingProblem)
    if (this.trailingCheck) clearTimeout(this.trailingCheck)
    this.trailingCheck = null
    this.poller = null
    this.pendingProblem = null
    await this.watcher?.close()
    this.watcher = null
    await this.writes.catch(() => undefined)
  }

  /**
   * Writes a new admin state through the file (atomically). Out of traffic at once, into traffic
   * only once it is on disk: a drain or a down answers while the file is written (the fsync of a
   * new file costs milliseconds) and is taken back if the write fails; ready waits for the rename,
   * so 200 is never answered for a state the file does not hold. A write that fails (a full disk)
   * leaves the old state in force, in the file and in the audit, and rejects with the reason.
   * With `ifStill`, the write happens only if that record is still the one in force when its turn
   * comes (an expiry must not undo a change made meanwhile); otherwise the record in force is returned.
   */
  set(input: StateInput, source: ChangeSource = 'api', ifStill?: StateRecord): Promise<StateRecord> {
    const write = this.writes.then(() =>
      ifStill && !(this.current && sameRecord(this.current, ifStill)) ? (this.current as StateRecord) : this.write(input, source),
    )
    this.writes = write.catch(() => undefined)
    return write
  }

  private async write(input: StateInput, source: ChangeSource): Promise<StateRecord> {
    const base = this.current
    const keepSince = base?.state === input.state ? base.since : undefined
    const record: StateRecord = { ...input, since: keepSince ?? new Date().toISOString() }
    if (input.state !== 'ready') this.update(() => (this.early = record), source)
    let committed = false
    try {
      await writeFileAtomic(this.path, formatStateRecord(record), {
        beforeRename: () => this.auditStrict(record, source),
        afterRename: () => {
          committed = true
          this.lastSignature = this.signature()
          this.setReadProblem(null)
          this.setWriteProblem(this.auditBehind())
          this.update(() => {
            this.committed = this.withSince(record)
            this.early = null
          }, source)
          this.emit('committed', this.committed as StateRecord)
        },
      })
    } catch (err) {
      if (committed) {
        // Renamed into place: the state is in force and on disk, only the folder's fsync failed.
        this.log.warn({ err, file: this.path }, 'state file written, but its folder could not be synced')
        return this.current as StateRecord
      }
      const kept = this.committed?.state ?? 'none'
      const message = `cannot write the state file ${this.path}: ${(err as Error).message}; the state stays ${kept}`
      this.log.error({ err, file: this.path, asked: record.state }, message)
      this.setWriteProblem({ kind: 'write-failed', message, since: new Date().toISOString() })
      this.update(() => (this.early = null), source)
      throw new AgentError('AGENT_ERR_STATE_FILE', message, { cause: err })
    }
    return this.current as StateRecord
  }

  private async loadAtStart(): Promise<void> {
    const read = this.readFile()
    if (read.ok) {
      this.committed = { ...read.record, since: read.record.since ?? this.mtimeIso() }
      this.log.info({ state: this.committed.state, reason: this.committed.reason, file: this.path }, 'admin state read from the state file')
      return
    }
    if (read.kind !== 'missing') {
      // Nothing good is known yet: the agent answers down until the file is fixed.
      this.setReadProblem({ kind: read.kind, message: read.error, since: new Date().toISOString() })
      return
    }
    const last = this.options.audit.lastEntry()
    if (last) {
      this.log.warn({ file: this.path, state: last.to }, 'state file missing; restoring the last state from the audit log')
      await this.set({ state: last.to, reason: last.reason ?? undefined, by: last.by ?? undefined }, 'restored')
    } else {
      this.log.info({ file: this.path, state: this.options.initialState }, 'no state file: writing the initial state')
      await this.set({ state: this.options.initialState, reason: 'initial state', by: 'health-agent' }, 'initial')
    }
  }

  private readFile(): { ok: true; record: StateRecord; warnings: string[] } | { ok: false; kind: FileProblemKind; error: string } {
    const read = readStateFile(this.path)
    return read.ok ? parseStateText(read.text) : read
  }

  private signature(): string {
    try {
      const s = statSync(this.path)
      return `${s.ino}:${s.size}:${s.mtimeMs}`
    } catch {
      return 'missing'
    }
  }

  private mtimeIso(): string {
    try {
      return statSync(this.path).mtime.toISOString()
    } catch {
      return new Date().toISOString()
    }
  }

  /**
   * chokidar 5 passes on one 'change' per path per 50 ms and drops the others, so a second write
   * right after a first (`echo drain > f; echo down > f`) would wait for the poll: read now, and once
   * more after the throttle window.
   */
  private onFileEvent(): void {
    this.check()
    if (this.trailingCheck) clearTimeout(this.trailingCheck)
    this.trailingCheck = setTimeout(() => {
      this.trailingCheck = null
      if (this.signature() !== this.lastSignature) this.check()
    }, CHOKIDAR_THROTTLE_MS + 10)
    this.trailingCheck.unref()
  }

  private poll(): void {
    if (this.options.audit.pending > 0) this.retryAudit()
    if (this.readProblem || this.signature() !== this.lastSignature) this.check()
  }

  private retryAudit(): void {
    try {
      this.options.audit.flush()
    } catch {
      // still full: the next poll tries again
    }
    this.setWriteProblem(this.auditBehind())
  }

  /** Reads the file now and applies it, or schedules the report of why it could not be used. */
  private check(): void {
    this.lastSignature = this.signature()
    const read = this.readFile()
    if (read.ok) {
      if (this.pendingProblem) clearTimeout(this.pendingProblem)
      this.pendingProblem = null
      this.setReadProblem(null)
      for (const warning of read.warnings) this.log.warn({ file: this.path }, `state file: ${warning}`)
      this.applyFromFile(read.record)
      return
    }
    if (this.readProblem?.kind === read.kind && this.readProblem.message === read.error) return
    if (this.pendingProblem) return
    this.pendingProblem = setTimeout(() => {
      this.pendingProblem = null
      const again = this.readFile()
      if (again.ok) {
        this.check()
        return
      }
      this.setReadProblem({ kind: again.kind, message: again.error, since: new Date().toISOString() })
    }, this.options.problemGraceMs ?? 100)
    this.pendingProblem.unref()
  }

  /**
   * A state some other writer put in the file. It is in force whatever the audit file can take:
   * the file already holds it. Its entry is kept in memory, in order, while the disk is full.
   */
  private applyFromFile(record: StateRecord): void {
    if (this.committed && sameRecord(this.committed, record)) return
    const error = this.options.audit.appendOrKeep(this.entry(record, 'file'))
    if (error)
      this.log.error(
        { err: error, file: this.options.audit.path },
        `cannot append to the audit file: ${error.message}; the entry is kept until it can be written`,
      )
    this.setWriteProblem(this.auditBehind())
    this.update(() => (this.committed = this.withSince(record)), 'file')
    this.emit('committed', this.committed as StateRecord)
  }

  /** Audits an API change before its rename; throws (and nothing is renamed) when the audit file does not take it. */
  private auditStrict(record: StateRecord, source: ChangeSource): void {
    if (this.committed && sameRecord(this.committed, record)) return
    this.options.audit.append(this.entry(record, source))
  }

  private entry(record: StateRecord, source: ChangeSource): AuditEntry {
    return {
      time: new Date().toISOString(),
      from: this.committed?.state ?? null,
      to: record.state,
      source,
      reason: record.reason ?? null,
      by: record.by ?? null,
      ...(record.until ? { until: record.until } : {}),
    }
  }

  private auditBehind(): FileProblem | null {
    const pending = this.options.audit.pending
    if (pending === 0) return null
    const message = `${pending} audit entr${pending === 1 ? 'y' : 'ies'} not yet written to ${this.options.audit.path} (kept in memory, written in order once it can be)`
    return { kind: 'audit-behind', message, since: this.writeProblem?.since ?? new Date().toISOString() }
  }

  /** The record as it enters the file: a new reason for the same state keeps the state's since. */
  private withSince(incoming: StateRecord): StateRecord {
    const from = this.committed
    const since = from?.state === incoming.state ? from.since : (incoming.since ?? new Date().toISOString())
    return { ...incoming, since }
  }

  /** True while an API drain or down is in force but its file is still being written. */
  get uncommitted(): boolean {
    return this.early !== null
  }

  /** Runs a change of `committed`/`early` and reports what it did to the state in force. */
  private update(change: () => void, source: ChangeSource): void {
    const from = this.current
    change()
    const to = this.current
    if (!to || (from && sameRecord(from, to))) return
    this.log.info(
      { from: from?.state ?? null, to: to.state, source, reason: to.reason, by: to.by, until: to.until },
      from?.state === to.state
        ? `admin state ${to.state}: reason, author or expiry updated`
        : `admin state ${from?.state ?? 'none'} -> ${to.state}`,
    )
    this.emit('change', { from, to, source })
  }

  private setReadProblem(problem: FileProblem | null): void {
    if (problem === null && this.readProblem === null) return
    if (problem && this.readProblem?.kind === problem.kind && this.readProblem.message === problem.message) return
    const previous = this.readProblem
    const reported = this.problem
    this.readProblem = problem
    if (problem) {
      this.log.warn(
        { file: this.path, problem: problem.kind, state: this.current?.state ?? null },
        `${problem.message}; keeping the last good state`,
      )
    } else if (previous) {
      this.log.info({ file: this.path, after: previous.kind }, 'state file readable again')
    }
    if (this.problem !== reported) this.emit('problem', this.problem)
  }

  private setWriteProblem(problem: FileProblem | null): void {
    if (problem === null && this.writeProblem === null) return
    if (problem && this.writeProblem?.kind === problem.kind && this.writeProblem.message === problem.message) return
    const previous = this.writeProblem
    const reported = this.problem
    this.writeProblem = problem
    if (!problem && previous) this.log.info({ file: this.path, after: previous.kind }, 'state and audit files written again')
    if (this.problem !== reported) this.emit('problem', this.problem)
  }
}
