import { constants } from 'node:fs'
import { mkdir, open, readFile, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import type { Logger } from 'pino'
import { writeFileAtomic } from '../state/atomic-write.js'

export type AccessLogProblem = 'too-long' | 'read'
export type AccessLogReset = 'rotated' | 'truncated'

export interface AccessLogFollowerOptions {
  path: string
  /** Where the read position is kept across restarts. */
  positionFile: string
  onLine: (line: string) => void
  onProblem: (kind: AccessLogProblem) => void
  onReset: (kind: AccessLogReset) => void
  logger: Logger
  /** The file is also checked this often, in case a file-system event is lost. */
  pollMs?: number
  /** The most read at once: a large backlog is read in steps, each one a turn of the event loop. */
  chunkBytes?: number
  /** A longer line is skipped (and counted), never kept in memory whole. */
  maxLineBytes?: number
  /** The position file is written at most this often. */
  saveEveryMs?: number
}

interface Position {
  id: string
  offset: number
}

const NEWLINE = 0x0a
const CHOKIDAR_THROTTLE_MS = 50

/**
 * Follows Tomcat's access log like `tail -F`: new lines as they are written (chokidar, with a
 * stat poll as a safety net), a rename or replacement of the file (rotation: the old file is read
 * to its end first) and a truncation (copytruncate) start over at the new file's beginning. The
 * position (file identity and offset) is kept in a small file, so lines written while the agent
 * was stopped are read once, and none twice. All reads are asynchronous and bounded.
 */
export class AccessLogFollower {
  private readonly chunkBytes: number
  private readonly maxLineBytes: number
  private file: FileHandle | null = null
  private fileId = ''
  private offset = 0
  private pending: Buffer[] = []
  private pendingBytes = 0
  private skipping = false
  private saved: Position | null = null
  private firstOpen = true
  private running: Promise<void> | null = null
  private again = false
  private closed = false
  private watcher: FSWatcher | null = null
  private poller: NodeJS.Timeout | null = null
  private saver: NodeJS.Timeout | null = null
  private trailing: NodeJS.Timeout | null = null
  private lastSaved = ''
  private lastProblem = ''

  constructor(private readonly options: AccessLogFollowerOptions) {
    this.chunkBytes = options.chunkBytes ?? 64 * 1024
    this.maxLineBytes = options.maxLineBytes ?? 16 * 1024
  }

  async start(): Promise<void> {
    this.saved = await this.loadPosition()
    const folder = dirname(this.options.path)
    this.watcher = watch(folder, {
      ignoreInitial: true,
      atomic: false,
      persistent: true,
      depth: 0,
      ignored: (path) => path !== folder && path !== this.options.path,
    })
    this.watcher.on('all', (_event, path) => {
      if (path === this.options.path) this.onFileEvent()
    })
    this.watcher.on('error', (err) => this.options.logger.warn({ err }, 'access log watcher error; polling continues'))
    await new Promise<void>((resolve) => this.watcher?.once('ready', () => resolve()))
    this.poller = setInterval(() => this.pump(), this.options.pollMs ?? 1000)
    this.poller.unref()
    await this.pump()
  }

  /** Reads what is new now; resolves when it has caught up (for tests and the start). */
  pump(): Promise<void> {
    if (this.closed) return Promise.resolve()
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      do {
        this.again = false
        await this.readAvailable()
      } while (this.again && !this.closed)
    })().finally(() => {
      this.running = null
      this.scheduleSave()
    })
    return this.running
  }

  /** The position kept for the next start: the end of the last whole line read. */
  position(): Position | null {
    return this.fileId ? { id: this.fileId, offset: this.offset - this.pendingBytes } : null
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.poller) clearInterval(this.poller)
    if (this.saver) clearTimeout(this.saver)
    if (this.trailing) clearTimeout(this.trailing)
    await this.watcher?.close()
    await this.running?.catch(() => undefined)
    await this.savePosition()
    await this.file?.close().catch(() => undefined)
    this.file = null
  }

  /**
   * chokidar passes on one 'change' per path per 50 ms and drops the others: a write right after
   * the one just read would wait for the poll, so the file is read once more after that window.
   */
  private onFileEvent(): void {
    void this.pump()
    if (this.trailing) clearTimeout(this.trailing)
    this.trailing = setTimeout(() => {
      this.trailing = null
      void this.pump()
    }, CHOKIDAR_THROTTLE_MS + 10)
    this.trailing.unref()
  }

  private async readAvailable(): Promise<void> {
    try {
      if (!this.file && !(await this.openFile())) return
      await this.followRenameOrTruncation()
      if (this.file) await this.readToEnd(this.file)
      this.lastProblem = ''
    } catch (err) {
      const message = (err as Error).message
      this.options.onProblem('read')
      // One log line per distinct problem, not one a poll.
      if (message !== this.lastProblem)
        this.options.logger.warn({ err, path: this.options.path }, 'cannot read the access log; trying again')
      this.lastProblem = message
      await this.file?.close().catch(() => undefined)
      this.file = null
    }
  }

  private async openFile(): Promise<boolean> {
    let handle: FileHandle
    try {
      // Non-blocking, so that a FIFO put in the log's place cannot hang the open.
      handle = await open(this.options.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.firstOpen = false
        return false
      }
      throw err
    }
    const info = await handle.stat()
    if (!info.isFile()) {
      await handle.close()
      throw new Error(`${this.options.path} is not a regular file`)
    }
    const id = `${info.dev}:${info.ino}`
    const saved = this.saved
    // At the first start the history is not counted; after a restart the saved position is
    // taken up again when the file is still the same one, and a file new since then is read whole.
    if (saved && saved.id === id && saved.offset <= info.size) this.offset = saved.offset
    else if (!saved && this.firstOpen) this.offset = info.size
    else this.offset = 0
    this.saved = null
    this.firstOpen = false
    this.file = handle
    this.fileId = id
    this.dropPending()
    return true
  }

  private async followRenameOrTruncation(): Promise<void> {
    const file = this.file as FileHandle
    let byName: string | null = null
    try {
      const info = await stat(this.options.path)
      byName = `${info.dev}:${info.ino}`
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (byName !== null && byName !== this.fileId) {
      // Rotated: what Tomcat wrote to the old file before the switch is still read.
      await this.readToEnd(file)
      await file.close()
      this.file = null
      this.dropPending()
      this.options.onReset('rotated')
      await this.openFile()
      return
    }
    const size = (await file.stat()).size
    if (size < this.offset) {
      this.offset = 0
      this.dropPending()
      this.options.onReset('truncated')
    }
  }

  private async readToEnd(file: FileHandle): Promise<void> {
    const buffer = Buffer.allocUnsafe(this.chunkBytes)
    for (;;) {
      if (this.closed) return
      const { bytesRead } = await file.read(buffer, 0, this.chunkBytes, this.offset)
      if (bytesRead === 0) return
      this.offset += bytesRead
      this.takeChunk(buffer.subarray(0, bytesRead))
    }
  }

  private takeChunk(chunk: Buffer): void {
    let start = 0
    for (let end = chunk.indexOf(NEWLINE, start); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, end)
      start = end + 1
      if (this.skipping) {
        this.skipping = false
        this.dropPending()
        continue
      }
      if (this.pendingBytes + piece.length > this.maxLineBytes) {
        this.dropPending()
        this.options.onProblem('too-long')
        continue
      }
      const line = this.pendingBytes > 0 ? Buffer.concat([...this.pending, piece]).toString('utf8') : piece.toString('utf8')
      this.dropPending()
      this.options.onLine(line.endsWith('\r') ? line.slice(0, -1) : line)
    }
    const rest = chunk.subarray(start)
    if (rest.length === 0 || this.skipping) {
      this.pendingBytes += this.skipping ? rest.length : 0
      return
    }
    if (this.pendingBytes + rest.length > this.maxLineBytes) {
      // The rest of this line is skipped up to its newline; counted once.
      this.options.onProblem('too-long')
      this.pending = []
      this.pendingBytes += rest.length
      this.skipping = true
      return
    }
    this.pending.push(Buffer.from(rest))
    this.pendingBytes += rest.length
  }

  private dropPending(): void {
    this.pending = []
    this.pendingBytes = 0
    this.skipping = false
  }

  private scheduleSave(): void {
    if (this.saver || this.closed) return
    this.saver = setTimeout(() => {
      this.saver = null
      void this.savePosition()
    }, this.options.saveEveryMs ?? 1000)
    this.saver.unref()
  }

  private async savePosition(): Promise<void> {
    const position = this.position()
    if (!position) return
    const text = `${JSON.stringify({ path: this.options.path, ...position })}\n`
    if (text === this.lastSaved) return
    try {
      await mkdir(dirname(this.options.positionFile), { recursive: true })
      await writeFileAtomic(this.options.positionFile, text)
      this.lastSaved = text
    } catch (err) {
      this.options.logger.warn(
        { err, file: this.options.positionFile },
        'cannot save the access log position; lines may be counted again after a restart',
      )
    }
  }

  private async loadPosition(): Promise<Position | null> {
    let text: string
    try {
      text = await readFile(this.options.positionFile, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.options.logger.warn({ err }, 'cannot read the access log position; starting at the end of the log')
      return null
    }
    try {
      const value = JSON.parse(text) as Partial<Position & { path: string }>
      if (
        value.path === this.options.path &&
        typeof value.id === 'string' &&
        Number.isSafeInteger(value.offset) &&
        (value.offset as number) >= 0
      ) {
        return { id: value.id, offset: value.offset as number }
      }
    } catch {
      // handled below
    }
    this.options.logger.warn(
      { file: this.options.positionFile },
      'the access log position is unusable or for another file; starting at the end of the log',
    )
    return null
  }
}
