import { Agent, request } from 'node:http'
import { setTimeout as delay } from 'node:timers/promises'

/**
 * Virtual users with their own cookie jars (HAProxy's persistence cookie and Tomcat's
 * JSESSIONID), each on its own keep-alive connection, requesting a page that counts the requests
 * of its session (`vN count=K`). A user whose count starts over has lost the session; a request
 * that is not a 200 with a count has failed.
 */

export interface StickyReport {
  users: number
  requests: number
  failed: number
  /** Times a user's count started over (the session was gone). */
  lost: number
  failures: Array<{ at: number; user: number; error: string }>
  versions: Record<string, number>
}

/** A pause between a user's requests: a person's pace, so that 20 users do not saturate two cores. */
const THINK_MS = 20

export class StickyLoad {
  readonly report: StickyReport
  private readonly users: Array<{ cookies: Map<string, string>; count: number; agent: Agent }>
  private running: Promise<void>[] = []
  private stopping = false
  private readonly started = Date.now()

  constructor(private readonly options: { url: string; users: number; maxSeconds: number }) {
    this.report = { users: options.users, requests: 0, failed: 0, lost: 0, failures: [], versions: {} }
    this.users = Array.from({ length: options.users }, () => ({
      cookies: new Map(),
      count: 0,
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    }))
  }

  start(): void {
    this.running = this.users.map((_, i) => this.user(i))
  }

  /** Every user has a session (a first count). */
  get allSeated(): boolean {
    return this.users.every((u) => u.count > 0)
  }

  get seconds(): number {
    return (Date.now() - this.started) / 1000
  }

  async stop(): Promise<StickyReport> {
    this.stopping = true
    await Promise.all(this.running)
    for (const u of this.users) u.agent.destroy()
    return this.report
  }

  private async user(index: number): Promise<void> {
    const user = this.users[index] as (typeof this.users)[number]
    while (!this.stopping && this.seconds < this.options.maxSeconds) {
      this.report.requests++
      try {
        const body = await this.get(user)
        const match = /^(v\d+) count=(\d+)\s*$/.exec(body)
        if (!match) throw new Error(`unexpected answer: ${body.slice(0, 80)}`)
        const count = Number(match[2])
        if (user.count > 0 && count <= user.count) this.report.lost++
        user.count = count
        this.report.versions[match[1] as string] = (this.report.versions[match[1] as string] ?? 0) + 1
      } catch (err) {
        this.report.failed++
        if (this.report.failures.length < 50) this.report.failures.push({ at: this.seconds, user: index, error: (err as Error).message })
      }
      await delay(THINK_MS)
    }
  }

  private get(user: (typeof this.users)[number]): Promise<string> {
    const cookie = [...user.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    return new Promise((resolve, reject) => {
      const req = request(this.options.url, { agent: user.agent, timeout: 10_000, headers: cookie ? { cookie } : {} }, (res) => {
        const chunks: Buffer[] = []
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';')
          const eq = (pair ?? '').indexOf('=')
          if (eq > 0) user.cookies.set((pair as string).slice(0, eq).trim(), (pair as string).slice(eq + 1).trim())
        }
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          if (res.statusCode === 200) resolve(body)
          else reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 80)}`))
        })
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
      req.on('error', reject)
      req.end()
    })
  }
}

export function describeStickyFailures(report: StickyReport): string {
  return report.failures.map((f) => `  ${f.at.toFixed(2)}s user ${f.user}: ${f.error}`).join('\n')
}
