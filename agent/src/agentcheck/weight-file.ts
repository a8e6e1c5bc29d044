import { readFile, unlink } from 'node:fs/promises'
import { MAX_WEIGHT_PERCENT as MAX_OVERRIDE_PERCENT, MIN_WEIGHT_PERCENT as MIN_OVERRIDE_PERCENT } from '../protocol/requests.js'
import { writeFileAtomic } from '../state/atomic-write.js'
import type { WeightOverride } from '../protocol/status.js'
export type { WeightOverride }

export type WeightFileRead = { ok: true; override: WeightOverride | null } | { ok: false; error: string }

function isTime(value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value))
}

function optionalString(value: unknown): value is string | null {
  return value === null || typeof value === 'string'
}

/** Checks what came out of the file; anything unexpected is refused as a whole. */
export function parseWeightFile(text: string): WeightFileRead {
  if (text.trim() === '') return { ok: true, override: null }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { ok: false, error: `not JSON: ${(err as Error).message}` }
  }
  if (value === null) return { ok: true, override: null }
  const o = value as Record<string, unknown>
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'expected a JSON object' }
  const percent = o.percent
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < MIN_OVERRIDE_PERCENT || percent > MAX_OVERRIDE_PERCENT) {
    return {
      ok: false,
      error: `"percent": expected an integer from ${MIN_OVERRIDE_PERCENT} to ${MAX_OVERRIDE_PERCENT}, got ${JSON.stringify(percent)}`,
    }
  }
  if (!(o.until === null || isTime(o.until)))
    return { ok: false, error: `"until": expected an ISO time or null, got ${JSON.stringify(o.until)}` }
  if (!isTime(o.since)) return { ok: false, error: `"since": expected an ISO time, got ${JSON.stringify(o.since)}` }
  if (!optionalString(o.reason) || !optionalString(o.by)) return { ok: false, error: '"reason" and "by": expected strings or null' }
  return { ok: true, override: { percent, until: o.until, reason: o.reason, by: o.by, since: o.since } }
}

/** The small JSON file next to the state file; the shell-writable state file keeps its one-line format. */
export class WeightFile {
  constructor(readonly path: string) {}

  async read(): Promise<WeightFileRead> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, override: null }
      return { ok: false, error: `cannot read: ${(err as Error).message}` }
    }
    return parseWeightFile(text)
  }

  write(override: WeightOverride): Promise<void> {
    return writeFileAtomic(this.path, `${JSON.stringify(override)}\n`)
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
  }
}
