import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { specialFileKind } from '../file-kind.js'
import { AgentError } from '../errors.js'

/** Far more than any token; a bigger file is not a token file. */
export const MAX_TOKEN_FILE_BYTES = 4096

const describeType = (s: Stats): string => specialFileKind(s) ?? 'another kind of file'

function refused(path: string, what: string, cause?: unknown): AgentError {
  return new AgentError('AGENT_ERR_TOKEN_FILE', `token file ${path}: ${what}`, cause === undefined ? undefined : { cause })
}

/**
 * Reads an admin token file the one way both the agent and agentctl do; agentctl runs as root from
 * the tomcat10 drop-in, so the path must not lead it anywhere else: not through a symlink
 * (O_NOFOLLOW), never blocking (O_NONBLOCK: a FIFO's open would wait for a writer), a regular file
 * only (not a FIFO, /dev/zero or a directory), and at most MAX_TOKEN_FILE_BYTES read. `inspect`
 * sees the open file before it is read (the agent makes it private there). A missing or
 * forbidden file throws the system's error (ENOENT, EACCES), for the caller to say what it means.
 */
export function readTokenFile(path: string, inspect?: (fd: number, stat: Stats) => void): string {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | constants.O_NOFOLLOW)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refused(path, 'expected a regular file, got a symbolic link', err)
    throw err
  }
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw refused(path, `expected a regular file, got ${describeType(stat)}`)
    if (stat.size > MAX_TOKEN_FILE_BYTES) throw refused(path, `expected a token of at most ${MAX_TOKEN_FILE_BYTES} bytes, got ${stat.size}`)
    inspect?.(fd, stat)
    // One byte past the cap tells a file that grew since the stat.
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1)
    let length = 0
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
      if (length > MAX_TOKEN_FILE_BYTES) throw refused(path, `expected a token of at most ${MAX_TOKEN_FILE_BYTES} bytes, got more`)
    }
    return buffer.toString('utf8', 0, length).trim()
  } finally {
    closeSync(fd)
  }
}
