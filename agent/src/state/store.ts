import { EventEmitter } from 'node:events'
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import type { Logger } from 'pino'
import type { AuditLog, ChangeSource } from './audit.js'
import { writeFileAtomic } from './atomic-write.js'
import { formatStateRecord, parseStateText, sameRecord, type AdminState, type StateRecord } from './model.js'

export type FileProblemKind = 'missing' | 'empty' | 'invalid' | 'unreadable'

export interface FileProblem {
  kind: FileProblemKind
  message: string
  since: string
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

type StoreEvents = { change: [StateChange]; problem: [FileProblem | null] }

/**
 * The admin state, kept in one shell-writable file. The file is the single source of truth:
 * API writes go through it (atomically), and every other write to it, in place, truncate-then-write,
 * rename over, delete and recreate, is picked up by chokidar (with a stat poll as a safety net).
 * A read that does not parse never replaces the last good state: it becomes a reported problem.
 */
export class StateStore extends EventEmitter<StoreEvents> {
  readonly path: string
  private readonly options: StateStoreOptions
  private readonly log: Logger
  private record: StateRecord | null = null
  private fileProblem: FileProblem | null = null
  private pendingProblem: NodeJS.Timeout | null = null
  private lastSignature = ''
  private watcher: FSWatcher | null = null
  private poller: NodeJS.Timeout | null = null
  private trailingCheck: NodeJS.Timeout | null = null
  private writes: Promise<unknown> = Promise.resolve()
  /** The API write under way: a watcher event can arrive before rename() returns, and must not be taken for a shell write. */
  private inFlight: { record: StateRecord; source: ChangeSource } | null = null

  constructor(options: StateStoreOptions) {
    super()
    this.options = options
    this.path = options.path
    this.log = options.logger.child({ component: 'state' })
  }

  /** The last good admin state; null only when the file has never been readable since start. */
  get current(): StateRecord | null {
    return this.record
  }

  get problem(): FileProblem | null {
    return this.fileProblem
  }

  async start(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true })
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
   * Writes a new admin state through the file (atomically) and applies it at once. With `ifStill`,
   * the write happens only if that record is still the one in force when its turn comes (an expiry
   * must not undo a change made meanwhile); otherwise the record in force is returned unchanged.
   */
  set(
    input: { state: AdminState; reason?: string; by?: string; until?: string },
    source: ChangeSource = 'api',
    ifStill?: StateRecord,
  ): Promise<StateRecord> {
    const write = this.writes.then(async () => {
      if (ifStill && !(this.record && sameRecord(this.record, ifStill))) return this.record as StateRecord
      const keepSince = this.record?.state === input.state ? this.record.since : undefined
      const record: StateRecord = { ...input, since: keepSince ?? new Date().toISOString() }
      this.inFlight = { record, source }
      // Out of traffic at once, into traffic only once it is on disk: a drain or a down answers
      // while the file is written (the fsync of a new file costs milliseconds), and is taken back
      // if the write fails; ready waits for the rename, so 200 is never answered for a state the
      // file does not hold.
      const previous = this.record
      const early = input.state !== 'ready'
      if (early) this.apply(record, source)
      try {
        await writeFileAtomic(this.path, formatStateRecord(record), {
          afterRename: () => {
            this.lastSignature = this.signature()
            this.setProblem(null)
            this.apply(record, source)
          },
        })
      } catch (err) {
        const stillOurs = this.record !== null && sameRecord(this.record, record)
        if (early && previous && stillOurs) {
          this.log.error({ err, file: this.path }, `cannot write the state file: back to ${previous.state}`)
          this.apply(previous, source)
        }
        throw err
      } finally {
        this.inFlight = null
      }
      return this.record as StateRecord
    })
    this.writes = write.catch(() => undefined)
    return write
  }

  private async loadAtStart(): Promise<void> {
    const read = this.readFile()
    if (read.ok) {
      this.record = { ...read.record, since: read.record.since ?? this.mtimeIso() }
      this.log.info({ state: this.record.state, reason: this.record.reason, file: this.path }, 'admin state read from the state file')
      return
    }
    if (read.kind !== 'missing') {
      // Nothing good is known yet: the agent answers down until the file is fixed.
      this.setProblem({ kind: read.kind, message: read.error, since: new Date().toISOString() })
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

  private readFile():
    | { ok: true; record: StateRecord; warnings: string[] }
    | { ok: false; kind: FileProblemKind; error: string } {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return { ok: false, kind: 'missing', error: `state file ${this.path} does not exist` }
      return { ok: false, kind: 'unreadable', error: `cannot read state file ${this.path}: ${(err as Error).message}` }
    }
    return parseStateText(text)
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
    if (this.fileProblem || this.signature() !== this.lastSignature) this.check()
  }

  /** Reads the file now and applies it, or schedules the report of why it could not be used. */
  private check(): void {
    this.lastSignature = this.signature()
    const read = this.readFile()
    if (read.ok) {
      if (this.pendingProblem) clearTimeout(this.pendingProblem)
      this.pendingProblem = null
      this.setProblem(null)
      for (const warning of read.warnings) this.log.warn({ file: this.path }, `state file: ${warning}`)
      const ours = this.inFlight && sameRecord(this.inFlight.record, read.record) ? this.inFlight : null
      this.apply(ours?.record ?? read.record, ours?.source ?? 'file')
      return
    }
    if (this.fileProblem?.kind === read.kind && this.fileProblem.message === read.error) return
    if (this.pendingProblem) return
    this.pendingProblem = setTimeout(() => {
      this.pendingProblem = null
      const again = this.readFile()
      if (again.ok) {
        this.check()
        return
      }
      this.setProblem({ kind: again.kind, message: again.error, since: new Date().toISOString() })
    }, this.options.problemGraceMs ?? 100)
    this.pendingProblem.unref()
  }

  private setProblem(problem: FileProblem | null): void {
    if (problem === null && this.fileProblem === null) return
    if (problem && this.fileProblem?.kind === problem.kind && this.fileProblem.message === problem.message) return
    const previous = this.fileProblem
    this.fileProblem = problem
    if (problem) {
      this.log.warn(
        { file: this.path, problem: problem.kind, state: this.record?.state ?? null },
        `${problem.message}; keeping the last good state`,
      )
    } else if (previous) {
      this.log.info({ file: this.path, after: previous.kind }, 'state file readable again')
    }
    this.emit('problem', problem)
  }

  private apply(incoming: StateRecord, source: ChangeSource): void {
    const from = this.record
    if (from && sameRecord(from, incoming)) return
    const since = from?.state === incoming.state ? from.since : (incoming.since ?? new Date().toISOString())
    const to: StateRecord = { ...incoming, since }
    this.record = to
    this.options.audit.append({
      time: new Date().toISOString(),
      from: from?.state ?? null,
      to: to.state,
      source,
      reason: to.reason ?? null,
      by: to.by ?? null,
      ...(to.until ? { until: to.until } : {}),
    })
    this.log.info(
      { from: from?.state ?? null, to: to.state, source, reason: to.reason, by: to.by, until: to.until },
      from?.state === to.state ? `admin state ${to.state}: reason, author or expiry updated` : `admin state ${from?.state ?? 'none'} -> ${to.state}`,
    )
    this.emit('change', { from, to, source })
  }
}
