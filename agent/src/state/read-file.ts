import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import { specialFileKind } from '../file-kind.js'

/**
 * The most the state file may hold. A state line is short (a reason and an author of at most 500
 * characters each, quoted); anything much longer is not a state file, and reading it would cost
 * time and memory on the health check's event loop.
 */
export const MAX_STATE_FILE_BYTES = 8 * 1024

export type StateReadProblem = 'missing' | 'unreadable' | 'not-a-file' | 'too-large'

export type StateFileRead = { ok: true; text: string } | { ok: false; kind: StateReadProblem; error: string }

const describeType = (s: Stats): string => specialFileKind(s) ?? 'not a regular file'

function notAFile(path: string, s: Stats): StateFileRead {
  return { ok: false, kind: 'not-a-file', error: `state file ${path} is ${describeType(s)}: expected a regular file (or a symlink to one)` }
}

function tooLarge(path: string, size: number | string): StateFileRead {
  return {
    ok: false,
    kind: 'too-large',
    error: `state file ${path} holds ${size} bytes: expected one state line of at most ${MAX_STATE_FILE_BYTES} bytes`,
  }
}

/**
 * Reads the state file without ever blocking on it or reading more than MAX_STATE_FILE_BYTES:
 * only a regular file is opened (a FIFO would block the open until a writer comes), the open
 * itself is non-blocking in case the file is swapped for a FIFO after the stat, and the read
 * stops one byte past the cap.
 */
export function readStateFile(path: string): StateFileRead {
  let fd: number
  try {
    const s = statSync(path)
    if (!s.isFile()) return notAFile(path, s)
    if (s.size > MAX_STATE_FILE_BYTES) return tooLarge(path, s.size)
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { ok: false, kind: 'missing', error: `state file ${path} does not exist` }
    if (code === 'ELOOP') return { ok: false, kind: 'unreadable', error: `state file ${path} is a symlink loop` }
    return { ok: false, kind: 'unreadable', error: `cannot read state file ${path}: ${(err as Error).message}` }
  }
  try {
    const s = fstatSync(fd)
    if (!s.isFile()) return notAFile(path, s)
    const buffer = Buffer.alloc(MAX_STATE_FILE_BYTES + 1)
    let length = 0
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
      if (length > MAX_STATE_FILE_BYTES) return tooLarge(path, `more than ${MAX_STATE_FILE_BYTES}`)
    }
    return { ok: true, text: buffer.toString('utf8', 0, length) }
  } catch (err) {
    return { ok: false, kind: 'unreadable', error: `cannot read state file ${path}: ${(err as Error).message}` }
  } finally {
    closeSync(fd)
  }
}
