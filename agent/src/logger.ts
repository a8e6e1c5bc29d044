import { pino, destination, type Logger, type DestinationStream } from 'pino'

export interface AgentLogger {
  logger: Logger
  /** Reopens the log file after logrotate moved it (SIGHUP); a no-op on standard output. */
  reopen(): void
  flush(): void
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
    return { logger, reopen: () => stream.reopen(), flush: () => stream.flushSync() }
  }
  if (options.pretty ?? process.stdout.isTTY) {
    // Loaded only for a terminal: it costs start-up time and memory that a service does not need.
    const { default: pretty } = await import('pino-pretty')
    const stream: DestinationStream = pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    return { logger: pino(base, stream), reopen: () => undefined, flush: () => undefined }
  }
  const stream = destination({ dest: 1, sync: false })
  return { logger: pino(base, stream), reopen: () => undefined, flush: () => stream.flushSync() }
}
