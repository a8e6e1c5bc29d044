import { open } from 'node:fs/promises'
import { isAdminState } from './model.js'
import type { AuditEntry } from './audit.js'

/** How much of the audit file's end a read looks at: months of changes, read in a few ms. */
export const AUDIT_READ_BYTES = 4 * 1024 * 1024

/** A state change from the audit log, with how long the state it set lasted. */
export interface HistoryEntry extends AuditEntry {
  /** Until the next change, or until now for the state in force. */
  durationMs: number
  current: boolean
}

export interface AuditTail {
  entries: HistoryEntry[]
  /** The read began inside the file: older changes exist but were not read. */
  truncated: boolean
}

function isStateEntry(value: unknown): value is AuditEntry {
  const e = value as Partial<AuditEntry> & { kind?: unknown }
  return (
    typeof e === 'object' &&
    e !== null &&
    e.kind === undefined &&
    isAdminState(e.to) &&
    typeof e.time === 'string' &&
    !Number.isNaN(Date.parse(e.time))
  )
}

/**
 * The state changes at the end of the audit log, oldest first, read without blocking the event
 * loop. Torn lines (a cut in the middle, a crash mid-write) and weight entries are skipped.
 */
export async function readAuditTail(
  path: string,
  options: { since?: number; limit?: number; now?: number; maxBytes?: number } = {},
): Promise<AuditTail> {
  const maxBytes = options.maxBytes ?? AUDIT_READ_BYTES
  let text = ''
  let truncated = false
  let file
  try {
    file = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], truncated: false }
    throw err
  }
  try {
    const size = (await file.stat()).size
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    await file.read(buffer, 0, length, size - length)
    truncated = length < size
    text = buffer.toString('utf8')
  } finally {
    await file.close()
  }
  const lines = text.split('\n')
  if (truncated) lines.shift()
  const changes: AuditEntry[] = []
  for (const line of lines) {
    if (!line) continue
    try {
      const value: unknown = JSON.parse(line)
      if (isStateEntry(value)) changes.push(value)
    } catch {
      // a torn line: skipped
    }
  }
  const now = options.now ?? Date.now()
  let entries: HistoryEntry[] = changes.map((entry, i) => {
    const next = changes[i + 1]
    const end = next ? Date.parse(next.time) : now
    return { ...entry, durationMs: Math.max(0, end - Date.parse(entry.time)), current: next === undefined }
  })
  if (options.since !== undefined) entries = entries.filter((e) => Date.parse(e.time) >= (options.since as number))
  if (options.limit !== undefined && entries.length > options.limit) entries = entries.slice(entries.length - options.limit)
  return { entries, truncated }
}
