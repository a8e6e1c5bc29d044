import { pino, destination, type Logger, type DestinationStream } from 'pino'

export interface AgentLogger {
  logger: Logger
  /** Reopens the log file after logrotate moved it (SIGHUP); a no-op on standard output. */
  reopen(): void
  /** At shutdown: writes out what is buffered, in order, and ends the stream. Nothing may log after it. */
  end(): Promise<void>
}

type Destination = ReturnType<typeof destination>

/**
 * Ends an asynchronous destination once its writes are done. flushSync() is not enough at exit:
 * while an asynchronous write is in flight it writes the newer lines first (the last "stopped"
 * line could come out before "closing listeners"). Standard output is not closed, only ended.
 */
function endStream(stream: Destination): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.once('close', () => resolve())
    stream.once('error', () => resolve())
    stream.end()
  })
}

/**
 * JSON lines (pino) to standard output or a file; human-readable only when standard output is
 * a terminal, so that production logs stay machine-readable.
 */
export async function createLogger(options: { level: string; file?: string; pretty?: boolean }): Promise<AgentLogger> {
  const base = { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }
  if (options.file) {
    const stream = destination({ dest: options.file, mkdir: true, sync: false })
    const logger = pino(base, stream)
    return { logger, reopen: () => stream.reopen(), end: () => endStream(stream) }
  }
  if (options.pretty ?? process.stdout.isTTY) {
    // Loaded only for a terminal: it costs start-up time and memory that a service does not need.
    const { default: pretty } = await import('pino-pretty')
    const stream: DestinationStream = pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    return { logger: pino(base, stream), reopen: () => undefined, end: async () => undefined }
  }
  const stream = destination({ dest: 1, sync: false })
  return { logger: pino(base, stream), reopen: () => undefined, end: () => endStream(stream) }
}
