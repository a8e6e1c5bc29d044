import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { RollSample, RollTimeline } from './roll-timeline.js'

const W = 1200
const LEFT = 150
const RIGHT = 30
const BAND = 16
const HOST_H = 74
const TOP = 50
const CHART_H = 120

const HAPROXY_COLOURS: Array<[RegExp, string, string]> = [
  [/^UP$/, '#2e9e44', 'UP'],
  [/^UP /, '#9bd3a6', 'UP, going down (n/m)'],
  [/^NOLB/, '#e8930c', 'NOLB (drain)'],
  [/^DOWN$/, '#d6332f', 'DOWN'],
  [/^DOWN /, '#f0a3a1', 'DOWN, coming up (n/m)'],
  [/^MAINT/, '#777777', 'MAINT'],
]
const AGENT_COLOURS: Record<string, [string, string]> = {
  '200': ['#2e9e44', '200 ready'],
  '404': ['#e8930c', '404 drain'],
  '500': ['#d6332f', '500 down'],
}
const OTHER = '#c8c8c8'

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string)
}

function haproxyColour(status: string): string {
  return HAPROXY_COLOURS.find(([re]) => re.test(status))?.[1] ?? OTHER
}

function agentColour(code: string): string {
  return AGENT_COLOURS[code]?.[0] ?? OTHER
}

/** Runs of equal values: [from, to, value], each run until the next sample (the last until the end). */
export function runs(
  samples: readonly RollSample[],
  value: (s: RollSample) => string | undefined,
  end: number,
): Array<[number, number, string]> {
  const out: Array<[number, number, string]> = []
  samples.forEach((s, i) => {
    const v = value(s)
    if (v === undefined) return
    const to = samples[i + 1]?.at ?? end
    const last = out.at(-1)
    if (last && last[2] === v && last[1] === s.at) last[1] = to
    else out.push([s.at, to, v])
  })
  return out
}

/** Requests and 5xx per second from the frontend's counters. */
export function perSecond(samples: readonly RollSample[], start: number): Array<{ second: number; requests: number; failures: number }> {
  const buckets = new Map<number, { requests: number; failures: number }>()
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] as RollSample
    const b = samples[i] as RollSample
    const second = Math.floor((b.at - start) / 1000)
    const bucket = buckets.get(second) ?? { requests: 0, failures: 0 }
    bucket.requests += Math.max(0, b.requests - a.requests)
    bucket.failures += Math.max(0, b.failures - a.failures)
    buckets.set(second, bucket)
  }
  return [...buckets.entries()].sort((x, y) => x[0] - y[0]).map(([second, v]) => ({ second, ...v }))
}

function tickStep(seconds: number): number {
  return [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => seconds / s <= 12) ?? 1200
}

const f = (n: number) => (Math.round(n * 10) / 10).toString()

/**
 * A roll as an SVG time line: per host, what HAProxy saw and what the agent answered its check,
 * the deploy steps marked; below, requests and failed (5xx) requests per second through HAProxy.
 */
export function renderRollSvg(timeline: RollTimeline, title = 'rolling deploy'): string {
  const start = timeline.startedAt
  const end = Math.max(timeline.endedAt, start + 1000)
  const x = (t: number) => LEFT + ((Math.min(Math.max(t, start), end) - start) / (end - start)) * (W - LEFT - RIGHT)
  const hostsH = timeline.hosts.length * HOST_H
  const chartTop = TOP + hostsH + 30
  const H = chartTop + CHART_H + 90
  const out: string[] = []
  const seconds = (end - start) / 1000
  const rates = perSecond(timeline.samples, start)
  const total = rates.reduce((a, r) => a + r.requests, 0)
  const failed = rates.reduce((a, r) => a + r.failures, 0)

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  )
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(
    `<text x="10" y="24" font-size="16" font-weight="bold">${escapeXml(`${title}: ${timeline.hosts.length} hosts, ${seconds.toFixed(1)} s, ${total} requests through HAProxy, ${failed} failed (5xx)`)}</text>`,
  )

  const step = tickStep(seconds)
  for (let s = 0; s <= seconds; s += step) {
    const tx = x(start + s * 1000)
    out.push(`<line x1="${f(tx)}" y1="${TOP - 8}" x2="${f(tx)}" y2="${chartTop + CHART_H}" stroke="#eeeeee"/>`)
    out.push(`<text x="${f(tx)}" y="${chartTop + CHART_H + 16}" text-anchor="middle" fill="#555">${s} s</text>`)
  }

  timeline.hosts.forEach((host, i) => {
    const y = TOP + i * HOST_H
    out.push(`<g class="host" data-host="${escapeXml(host)}">`)
    out.push(`<text x="10" y="${y + 30}" font-weight="bold">${escapeXml(host)}</text>`)
    out.push(`<text x="${LEFT - 8}" y="${y + 24 + 12}" text-anchor="end" fill="#555" font-size="10">HAProxy saw</text>`)
    out.push(`<text x="${LEFT - 8}" y="${y + 24 + BAND + 14}" text-anchor="end" fill="#555" font-size="10">agent answered</text>`)
    for (const [from, to, status] of runs(timeline.samples, (s) => s.servers[host]?.status, end)) {
      out.push(
        `<rect class="haproxy" x="${f(x(from))}" y="${y + 24}" width="${f(Math.max(0.5, x(to) - x(from)))}" height="${BAND}" fill="${haproxyColour(status)}"><title>${escapeXml(status)}</title></rect>`,
      )
    }
    for (const [from, to, code] of runs(timeline.samples, (s) => s.servers[host]?.checkCode, end)) {
      out.push(
        `<rect class="agent" x="${f(x(from))}" y="${y + 26 + BAND}" width="${f(Math.max(0.5, x(to) - x(from)))}" height="${BAND}" fill="${agentColour(code)}"><title>${escapeXml(code || 'no check yet')}</title></rect>`,
      )
    }
    timeline.marks
      .filter((m) => m.host === host)
      .forEach((m, k) => {
        const mx = x(m.at)
        // Steps come in quick succession: three label rows keep their names apart.
        const row = k % 3
        out.push(
          `<line class="mark" x1="${f(mx)}" y1="${y + 2 + row * 7}" x2="${f(mx)}" y2="${y + 28 + 2 * BAND}" stroke="#222" stroke-width="1"/>`,
        )
        out.push(`<text x="${f(mx + 2)}" y="${y + 9 + row * 7}" font-size="9" fill="#222">${escapeXml(m.label)}</text>`)
      })
    out.push('</g>')
  })

  const maxRate = Math.max(1, ...rates.map((r) => r.requests))
  const yRate = (v: number) => chartTop + CHART_H - (v / maxRate) * CHART_H
  out.push(`<text x="10" y="${chartTop + 14}" font-weight="bold">requests/s</text>`)
  out.push(`<text x="${LEFT - 8}" y="${chartTop + 10}" text-anchor="end" fill="#555">${maxRate}</text>`)
  out.push(`<text x="${LEFT - 8}" y="${chartTop + CHART_H}" text-anchor="end" fill="#555">0</text>`)
  out.push(`<line x1="${LEFT}" y1="${chartTop + CHART_H}" x2="${W - RIGHT}" y2="${chartTop + CHART_H}" stroke="#999"/>`)
  const points = rates.map((r) => `${f(x(start + (r.second + 0.5) * 1000))},${f(yRate(r.requests))}`).join(' ')
  if (points) out.push(`<polyline class="rate" points="${points}" fill="none" stroke="#2f6fd6" stroke-width="1.5"/>`)
  for (const r of rates.filter((q) => q.failures > 0)) {
    const bx = x(start + r.second * 1000)
    const bh = Math.max(2, (r.failures / maxRate) * CHART_H)
    out.push(
      `<rect class="failed" x="${f(bx)}" y="${f(chartTop + CHART_H - bh)}" width="${f(Math.max(2, x(start + 1000) - x(start)))}" height="${f(bh)}" fill="#d6332f"><title>${r.failures} failed at ${r.second} s</title></rect>`,
    )
  }
  out.push(`<text x="10" y="${chartTop + 32}" fill="#d6332f">failed/s (red)</text>`)

  const legend = [
    ...HAPROXY_COLOURS.map(([, c, l]) => [c, `HAProxy ${l}`]),
    ...Object.values(AGENT_COLOURS).map(([c, l]) => [c, `agent ${l}`]),
  ]
  legend.forEach(([colour, label], k) => {
    const lx = 10 + (k % 6) * 195
    const ly = chartTop + CHART_H + 36 + Math.floor(k / 6) * 18
    out.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colour}"/><text x="${lx + 16}" y="${ly}" font-size="11">${escapeXml(label as string)}</text>`,
    )
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

/** Writes the time line where a person can open it; returns the path. */
export function saveRollSvg(timeline: RollTimeline, file: string, title: string): string {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, renderRollSvg(timeline, title))
  return file
}
