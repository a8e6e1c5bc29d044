import { setTimeout as delay } from 'node:timers/promises'

/** One sample of HAProxy's `show stat`: each server's status and last check code, and the frontend's counters. */
export interface RollSample {
  at: number
  servers: Record<string, { status: string; checkCode: string }>
  requests: number
  failures: number
}

export interface RollMark {
  at: number
  host: string | null
  label: string
}

export interface RollTimeline {
  startedAt: number
  endedAt: number
  hosts: string[]
  samples: RollSample[]
  marks: RollMark[]
}

export interface RollRecorderOptions {
  /** `show stat` as rows keyed by column name (RunningHaproxy.showStat). */
  showStat: () => Promise<Array<Record<string, string>>>
  backend: string
  frontend: string
  everyMs?: number
}

const STEP_START = /^\[\d+\/\d+ (\S+)\] (?:pre-deploy|post-deploy|deploy-war): step: (.*)$/
/** The steps worth a mark, by the start of their name in the scripts' `step:` lines. */
const STEP_LABELS: Array<[RegExp, string]> = [
  [/^drain/, 'drain'],
  [/^down/, 'down'],
  [/^stop tomcat/, 'stop'],
  [/^swap in/, 'swap'],
  [/^start tomcat/, 'start'],
  [/^ready/, 'ready'],
  [/^put the previous version back/, 'rollback'],
]

/** The mark a deploy script's line stands for (a step that begins), or null for the other lines. */
export function markOf(line: string, at: number): RollMark | null {
  const step = STEP_START.exec(line)
  if (!step) return null
  const label = STEP_LABELS.find(([re]) => re.test(step[2] as string))?.[1]
  return label ? { at, host: step[1] as string, label } : null
}

/**
 * Samples HAProxy during a roll: what it saw of each server (UP, NOLB, DOWN, MAINT), what the
 * agent last answered its check (the check code), and its frontend's request and 5xx counters.
 * One `show stat` per sample, so the roll's own timing is not disturbed.
 */
export class RollRecorder {
  private readonly options: RollRecorderOptions
  private readonly samples: RollSample[] = []
  private readonly marks: RollMark[] = []
  private readonly hosts = new Set<string>()
  private startedAt = 0
  private stopping = false
  private loop: Promise<void> | null = null

  constructor(options: RollRecorderOptions) {
    this.options = options
  }

  start(): void {
    this.startedAt = Date.now()
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          this.samples.push(this.sample(await this.options.showStat()))
        } catch {
          // HAProxy busy for a moment: the next sample tells
        }
        await delay(this.options.everyMs ?? 100)
      }
    })()
  }

  /** A deploy script's output line, as it arrives. */
  line(text: string, at = Date.now()): void {
    const mark = markOf(text, at)
    if (mark) this.marks.push(mark)
  }

  async stop(): Promise<RollTimeline> {
    this.stopping = true
    await this.loop
    // The state at the end, whatever the cadence left out.
    this.samples.push(this.sample(await this.options.showStat()))
    return {
      startedAt: this.startedAt,
      endedAt: Date.now(),
      hosts: [...this.hosts],
      samples: this.samples,
      marks: this.marks.sort((a, b) => a.at - b.at),
    }
  }

  private sample(rows: Array<Record<string, string>>): RollSample {
    const servers: RollSample['servers'] = {}
    let requests = 0
    let failures = 0
    for (const row of rows) {
      if (row.pxname === this.options.backend && row.svname && row.svname !== 'BACKEND') {
        this.hosts.add(row.svname)
        // While a check runs HAProxy shows code 0 (or none): the last answer still stands.
        const code = row.check_code && row.check_code !== '0' ? row.check_code : (this.samples.at(-1)?.servers[row.svname]?.checkCode ?? '')
        servers[row.svname] = { status: row.status ?? '', checkCode: code }
      }
      if (row.pxname === this.options.frontend && row.svname === 'FRONTEND') {
        requests = Number(row.req_tot ?? 0)
        failures = Number(row.hrsp_5xx ?? 0)
      }
    }
    return { at: Date.now(), servers, requests, failures }
  }
}
