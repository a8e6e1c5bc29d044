import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * Replaces `path` with `text` so that a reader sees either the old or the new content, never a
 * part: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { mode?: number; afterRename?: () => void } = {},
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
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    throw err
  }
  // Runs before any watcher event about the rename can be delivered.
  options.afterRename?.()
  const folder = await open(dir, 'r')
  try {
    await folder.sync()
  } finally {
    await folder.close()
  }
}
