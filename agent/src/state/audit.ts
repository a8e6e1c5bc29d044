import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { isAdminState, type AdminState } from './model.js'

/** `expired`: a drain or down set with an expiry (`until=`) ended by itself. */
export type ChangeSource = 'file' | 'api' | 'initial' | 'restored' | 'expired'

export interface AuditEntry {
  time: string
  from: AdminState | null
  to: AdminState
  source: ChangeSource
  reason: string | null
  by: string | null
  /** When the new state ends by itself; absent when it does not. */
  until?: string
}

/** A change of the agent-check weight override, in the same log; `kind` tells it from a state change. */
export interface WeightAuditEntry {
  time: string
  kind: 'weight'
  /** The override before and after, as `N%`; null for none. */
  from: string | null
  to: string | null
  until: string | null
  source: 'api' | 'expired'
  reason: string | null
  by: string | null
}

/**
 * Append-only JSON-lines record of every admin state change. Each entry is one write(2) on a
 * file opened with O_APPEND, so concurrent writers never interleave inside a line; reopen() lets
 * logrotate move the file away (SIGHUP).
 *
 * An entry that could not be written (a full disk) is either refused, so that the caller keeps
 * the old state (append), or kept in order in memory and written before anything else once the
 * disk takes it again (appendOrKeep, for changes that already happened: a shell write to the
 * state file). The chain of from -> to therefore has no gap and no entry out of order.
 */
export class AuditLog {
  readonly path: string
  private fd: number | null = null
  private readonly behind: string[] = []
  /** A write cut short left part of a line: the next one starts on a fresh line. */
  private torn = false

  constructor(path: string) {
    this.path = path
  }

  /** Entries kept in memory because the file did not take them. */
  get pending(): number {
    return this.behind.length
  }

  open(): void {
    mkdirSync(dirname(this.path), { recursive: true })
    this.fd = openSync(this.path, 'a', 0o640)
  }

  /** Writes the entry, after any kept ones; throws, and keeps nothing, when the file does not take it. */
  append(entry: AuditEntry | WeightAuditEntry): void {
    this.flush()
    this.writeLine(`${JSON.stringify(entry)}\n`)
  }

  /** Writes the entry, or keeps it for the next write that works; returns the error when it was kept. */
  appendOrKeep(entry: AuditEntry | WeightAuditEntry): Error | null {
    const line = `${JSON.stringify(entry)}\n`
    try {
      this.flush()
      this.writeLine(line)
      return null
    } catch (err) {
      this.behind.push(line)
      return err as Error
    }
  }

  /** Writes the kept entries, oldest first; throws at the first one the file does not take. */
  flush(): void {
    while (this.behind.length > 0) {
      this.writeLine(this.behind[0] as string)
      this.behind.shift()
    }
  }

  private writeLine(line: string): void {
    if (this.fd === null) this.open()
    const buffer = Buffer.from(this.torn ? `\n${line}` : line)
    let written = 0
    try {
      while (written < buffer.length) written += writeSync(this.fd as number, buffer, written)
    } catch (err) {
      if (written > 0) this.torn = true
      throw err
    }
    this.torn = false
  }

  reopen(): void {
    this.close()
    this.open()
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }

  /** The newest state entry that parses, read from the file's tail; null when there is none. */
  lastEntry(): AuditEntry | null {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch {
      return null
    }
    try {
      const size = fstatSync(fd).size
      const length = Math.min(size, 64 * 1024)
      const buffer = Buffer.alloc(length)
      readSync(fd, buffer, 0, length, size - length)
      const lines = buffer.toString('utf8').split('\n').reverse()
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as AuditEntry & { kind?: string }
          // Other kinds of entries (a weight override) are not states to restore.
          if (entry && entry.kind === undefined && isAdminState(entry.to)) return entry
        } catch {
          // a torn or partial line at the cut: look further back
        }
      }
      return null
    } finally {
      closeSync(fd)
    }
  }
}
