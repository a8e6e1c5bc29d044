import { randomBytes } from 'node:crypto'
import { readdirSync, renameSync, unlinkSync } from 'node:fs'
import { open, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `.<name>.<pid>.<8 hex>.tmp`: the temp files writeFileAtomic makes beside `path`. */
function tempFilePattern(path: string): RegExp {
  return new RegExp(`^\\.${escapeRegExp(basename(path))}\\.\\d+\\.[0-9a-f]{8}\\.tmp$`)
}

/**
 * Replaces `path` with `text` so that a reader sees either the old or the new content, never a
 * part: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
 * `beforeRename` and the rename run in one synchronous step, so nothing else on the event loop
 * (a watcher reading the file) can come between them; when `beforeRename` throws, nothing is
 * renamed. `afterRename` runs before any watcher event about the rename can be delivered.
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { mode?: number; beforeRename?: () => void; afterRename?: () => void } = {},
): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const file = await open(tmp, 'wx', options.mode ?? 0o644)
    try {
      await file.writeFile(text)
      await file.sync()
    } finally {
      await file.close()
    }
    options.beforeRename?.()
    renameSync(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  options.afterRename?.()
  const folder = await open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}

/**
 * Removes the temp files a killed writer left beside `path`. Only at start: while the agent runs,
 * a temp file may be its own write in progress. Returns the names removed.
 */
export function removeStaleTempFiles(path: string): string[] {
  const pattern = tempFilePattern(path)
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dirname(path))
  } catch {
    return removed
  }
  for (const name of names) {
    if (!pattern.test(name)) continue
    try {
      unlinkSync(join(dirname(path), name))
      removed.push(name)
    } catch {
      // gone already, or not ours to remove: the next start tries again
    }
  }
  return removed
}
