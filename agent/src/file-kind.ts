import type { Stats } from 'node:fs'

/** What a file that is not a regular one is, for a message ("got a FIFO (named pipe)"); null otherwise. */
export function specialFileKind(s: Stats): string | null {
  if (s.isDirectory()) return 'a directory'
  if (s.isFIFO()) return 'a FIFO (named pipe)'
  if (s.isSocket()) return 'a socket'
  if (s.isCharacterDevice()) return 'a character device'
  if (s.isBlockDevice()) return 'a block device'
  return null
}
