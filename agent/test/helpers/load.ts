import { Agent, request } from 'node:http'

export interface LoadOptions {
  url: string
  /** Concurrent clients, each on its own keep-alive connection. */
  clients: number
  /** Every Nth request of a client is sent to `slowPath` instead. */
  slowEvery?: number
  slowPath?: string
  /** Hard limits: the load stops by itself at either. */
  maxRequests: number
  maxSeconds: number
  /** Reads the app version from a response body. */
  versionOf?: (body: string) => string | null
}

export interface LoadFailure {
  at: number
  path: string
  error: string
}

export interface LoadReport {
  requests: number
  ok: number
  failed: number
  failures: LoadFailure[]
  byStatus: Record<string, number>
  /** Versions in the order they were first seen, with counts. */
  versions: Record<string, number>
  /** Responses whose version was not one of the expected ones. */
  unexpectedVersions: number
}

/** The failed requests of a report, one line each, for an assertion's message. */
export function describeFailures(report: LoadReport): string {
  return report.failures.map((f) => `${f.at.toFixed(2)}s ${f.path}: ${f.error}`).join('\n')
}

/**
 * A bounded load generator for the end-to-end tests: several clients send requests through the
 * load balancer for as long as it runs, and every response's status and version is counted, so
 * that a single failed request is seen at the client (HAProxy does not count them all).
 */
export class LoadGenerator {
  private readonly options: LoadOptions
  private readonly agent: Agent
  private stopping = false
  private running: Promise<void>[] = []
  readonly report: LoadReport = { requests: 0, ok: 0, failed: 0, failures: [], byStatus: {}, versions: {}, unexpectedVersions: 0 }
  private readonly started = Date.now()

  constructor(options: LoadOptions) {
    this.options = options
    this.agent = new Agent({ keepAlive: true, maxSockets: options.clients })
  }

  start(expectedVersions: string[] = []): void {
    for (let i = 0; i < this.options.clients; i++) this.running.push(this.client(i, expectedVersions))
  }

  async stop(): Promise<LoadReport> {
    this.stopping = true
    await Promise.all(this.running)
    this.agent.destroy()
    return this.report
  }

  get elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000
  }

  private done(): boolean {
    return this.stopping || this.report.requests >= this.options.maxRequests || this.elapsedSeconds >= this.options.maxSeconds
  }

  private async client(index: number, expectedVersions: string[]): Promise<void> {
    let n = 0
    while (!this.done()) {
      n++
      const slow = this.options.slowEvery && this.options.slowPath && (n + index) % this.options.slowEvery === 0
      const path = slow ? (this.options.slowPath as string) : new URL(this.options.url).pathname
      this.report.requests++
      try {
        const { status, body } = await this.get(path)
        this.report.byStatus[status] = (this.report.byStatus[status] ?? 0) + 1
        if (status !== 200) throw new Error(`HTTP ${status}: ${body.slice(0, 80)}`)
        const version = this.options.versionOf?.(body) ?? null
        if (version) {
          this.report.versions[version] = (this.report.versions[version] ?? 0) + 1
          if (expectedVersions.length > 0 && !expectedVersions.includes(version)) this.report.unexpectedVersions++
        }
        this.report.ok++
      } catch (err) {
        this.report.failed++
        if (this.report.failures.length < 50) this.report.failures.push({ at: this.elapsedSeconds, path, error: (err as Error).message })
      }
    }
  }

  private get(path: string): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.options.url)
    return new Promise((resolve, reject) => {
      const req = request(url, { agent: this.agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
      req.on('error', reject)
      req.end()
    })
  }
}
