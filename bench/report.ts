type Results = Record<string, unknown>

interface Target {
  key: string
  label: string
  limit: number
  better: 'higher' | 'lower'
  unit: string
}

export const TARGETS: Target[] = [
  { key: 'health.ratio', label: 'checks/s vs bare node:http, keep-alive', limit: 0.8, better: 'higher', unit: 'x' },
  { key: 'health.conn_per_check.ratio', label: 'checks/s vs bare node:http, new HTTP/1.0 connection per check', limit: 0.8, better: 'higher', unit: 'x' },
  { key: 'reaction.api_to_404_p99_ms', label: 'admin API drain to first 404, p99', limit: 5, better: 'lower', unit: 'ms' },
  { key: 'reaction.file_to_404_p99_ms', label: 'state-file write to first 404, p99', limit: 50, better: 'lower', unit: 'ms' },
  { key: 'footprint.rss_idle_mb', label: 'resident memory, idle', limit: 60, better: 'lower', unit: 'MiB' },
  { key: 'footprint.cold_start_ms', label: 'process start to first 200', limit: 500, better: 'lower', unit: 'ms' },
  { key: 'scale.cpu_pct_1000_lbs', label: 'CPU with 1,000 load balancers checking every 2 s (% of one core)', limit: 10, better: 'lower', unit: '%' },
  { key: 'roll.overhead_ratio', label: 'rolling deploy time vs its unavoidable parts', limit: 1.15, better: 'lower', unit: 'x' },
  { key: 'peer.ratio', label: 'rolling deploy time, ours vs Ansible haproxy module', limit: 0.5, better: 'lower', unit: 'x' },
]

export function lookup(results: Results, key: string): number | undefined {
  if (key === 'scale.cpu_pct_1000_lbs') {
    const rows = (results.scale as { lbs?: Array<{ lbs: number; cpu_pct: number }> } | undefined)?.lbs
    return rows?.find((r) => r.lbs === 1000)?.cpu_pct
  }
  let value: unknown = results
  for (const part of key.split('.')) value = (value as Record<string, unknown> | undefined)?.[part]
  return typeof value === 'number' ? value : undefined
}

function row(cells: Array<string | number | undefined>): string {
  return `| ${cells.map((c) => (c === undefined ? '-' : String(c))).join(' | ')} |`
}

/** RESULTS.md: the machine, each target with its measured figure, and every figure of every part. */
export function renderResults(results: Results): string {
  const machine = results.machine as Record<string, unknown>
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts) from `bench/results.json`. Every speed figure that',
    'matters is a ratio against a baseline measured in the same run, or a median of several runs.',
    '',
    `Machine: ${machine.cpus} x ${machine.cpu_model}, ${machine.memory_gib} GiB; Node.js ${machine.node}; agent ${machine.agent}; ${machine.haproxy}; ${machine.wrk}.`,
    '',
    '## Targets',
    '',
    row(['target', 'limit', 'measured', 'met']),
    row(['---', '---', '---', '---']),
  ]
  for (const target of TARGETS) {
    const value = lookup(results, target.key)
    const met = value === undefined ? 'not measured' : (target.better === 'higher' ? value >= target.limit : value <= target.limit) ? 'yes' : '**no**'
    lines.push(row([`${target.label} (\`${target.key}\`)`, `${target.better === 'higher' ? '>=' : '<='} ${target.limit} ${target.unit}`, value === undefined ? undefined : `${value} ${target.unit}`, met]))
  }
  for (const [part, figures] of Object.entries(results)) {
    if (part === 'machine') continue
    lines.push('', `## ${part}`, '', '```json', JSON.stringify(figures, null, 2), '```')
  }
  return `${lines.join('\n')}\n`
}
