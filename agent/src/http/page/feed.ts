import type { ServerResponse } from 'node:http'
import type { HistoryEntry } from '../../state/audit-reader.js'
import type { AgentStatus } from '../../protocol/status.js'
import { pageView, type PageDetail, type PageView } from './view.js'

/** Open pages a health listener serves at once: each is a held connection on the load balancers' port. */
export const MAX_PAGE_CLIENTS = 16
/** Ages, bars and the expiry count down even when nothing changes. */
export const TICK_MS = 1000
const HISTORY_ROWS = 12

export interface PageFeedDeps {
  status: () => AgentStatus
  /** Calls the listener on every change of the admin or effective state, the Tomcat facts or the file; returns an unsubscribe. */
  onChange: (listener: () => void) => () => void
  /** The audit log's last state changes; read again after each change. */
  history: (limit: number) => Promise<readonly HistoryEntry[]>
  detail: PageDetail
  /** Load balancers' checks: their rows change with every check, which the tick shows. */
  tickMs?: number
}

/**
 * Pushes the page's view to every open page (server-sent events): at once on a change, and every
 * tick. The view is built and serialised once per push, whatever the number of pages, and only
 * while a page is open.
 */
export class PageFeed {
  private readonly deps: PageFeedDeps
  private readonly clients = new Set<ServerResponse>()
  private history: readonly HistoryEntry[] = []
  private historyRead: Promise<void> | null = null
  private unsubscribe: (() => void) | null = null
  private ticker: NodeJS.Timeout | null = null
  private pushQueued = false
  private lastFrame: { status: AgentStatus; history: readonly HistoryEntry[]; text: string } | null = null

  constructor(deps: PageFeedDeps) {
    this.deps = deps
  }

  get size(): number {
    return this.clients.size
  }

  view(): PageView {
    return pageView(this.deps.status(), this.history, this.deps.detail)
  }

  /** A fresh snapshot, history included (for GET /status/view and a page's first event). */
  async snapshot(): Promise<PageView> {
    await this.readHistory()
    return this.view()
  }

  /** Takes over a response as an event stream; false when too many pages are open. */
  add(response: ServerResponse): boolean {
    if (this.clients.size >= MAX_PAGE_CLIENTS) return false
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    })
    // A page that could not reconnect for a while asks again after 1 s.
    response.write('retry: 1000\n\n')
    this.clients.add(response)
    response.on('close', () => this.remove(response))
    if (this.clients.size === 1) this.startFollowing()
    void this.readHistory().then(() => this.send(response, this.frame()))
    return true
  }

  /** Ends every stream (the listener is closing). */
  close(): void {
    for (const response of this.clients) response.end()
    this.clients.clear()
    this.stopFollowing()
  }

  private remove(response: ServerResponse): void {
    this.clients.delete(response)
    if (this.clients.size === 0) this.stopFollowing()
  }

  private startFollowing(): void {
    this.unsubscribe = this.deps.onChange(() => this.changed())
    this.ticker = setInterval(() => this.push(), this.deps.tickMs ?? TICK_MS)
    this.ticker.unref()
  }

  private stopFollowing(): void {
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = null
  }

  /** A change: pushed at once (several in one turn make one push), then again with the audit entry it wrote. */
  private changed(): void {
    if (!this.pushQueued) {
      this.pushQueued = true
      setImmediate(() => {
        this.pushQueued = false
        this.push()
      })
    }
    void this.readHistory(true).then(() => this.push())
  }

  private readHistory(force = false): Promise<void> {
    if (this.historyRead && !force) return this.historyRead
    const read = this.deps
      .history(HISTORY_ROWS)
      .then((entries) => {
        this.history = entries
      })
      .catch(() => {
        // An unreadable audit log leaves the last rows shown; the agent's log says why elsewhere.
      })
    this.historyRead = read
    return read
  }

  /** One frame per status and history, whatever the number of pages that ask for it. */
  private frame(): string {
    const status = this.deps.status()
    const last = this.lastFrame
    if (last?.status === status && last.history === this.history) return last.text
    const text = `data: ${JSON.stringify(pageView(status, this.history, this.deps.detail))}\n\n`
    this.lastFrame = { status, history: this.history, text }
    return text
  }

  private push(): void {
    if (this.clients.size === 0) return
    const frame = this.frame()
    for (const response of this.clients) this.send(response, frame)
  }

  private send(response: ServerResponse, frame: string): void {
    if (response.writableEnded || response.destroyed) return
    // A page that does not read (a stopped laptop) is not buffered for: it is dropped, and reconnects.
    if (response.writableLength > 256 * 1024) {
      response.destroy()
      return
    }
    response.write(frame)
  }
}
