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
 */
export class AuditLog {
  readonly path: string
  private fd: number | null = null

  constructor(path: string) {
    this.path = path
  }

  open(): void {
    mkdirSync(dirname(this.path), { recursive: true })
    this.fd = openSync(this.path, 'a', 0o640)
  }

  append(entry: AuditEntry | WeightAuditEntry): void {
    if (this.fd === null) this.open()
    writeSync(this.fd as number, `${JSON.stringify(entry)}\n`)
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
