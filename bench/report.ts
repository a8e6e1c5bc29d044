import { existsSync, readFileSync } from 'node:fs'
import { CHECK } from '../agent/test/e2e/stack.js'

type Results = Record<string, unknown>

interface Target {
  key: string
  label: string
  /** No limit: a figure the issue asks for without a number to meet. */
  limit?: number
  better: 'higher' | 'lower'
  unit: string
}

export const TARGETS: Target[] = [
  { key: 'health.ratio', label: 'checks/s vs bare node:http, keep-alive', limit: 0.8, better: 'higher', unit: 'x' },
  {
    key: 'health.conn_per_check.ratio',
    label: 'checks/s vs bare node:http, new HTTP/1.0 connection per check',
    limit: 0.8,
    better: 'higher',
    unit: 'x',
  },
  { key: 'reaction.file_to_404_p99_ms', label: 'state-file write to first 404, p99', limit: 50, better: 'lower', unit: 'ms' },
  { key: 'footprint.rss_idle_mb', label: 'resident memory, idle', limit: 60, better: 'lower', unit: 'MiB' },
  { key: 'footprint.cold_start_ms', label: 'process start to first 200', limit: 500, better: 'lower', unit: 'ms' },
  {
    key: 'scale.cpu_ratio_1000_lbs_vs_node_http',
    label: 'CPU with 1,000 load balancers checking every 2 s, vs bare node:http in the same run',
    limit: 1.1,
    better: 'lower',
    unit: 'x',
  },
  {
    key: 'scale.held.cpu_ratio_vs_node_http',
    label: 'CPU with 1,000 load balancers on the recommended snippet (held checks), vs bare node:http holding each request as long',
    limit: 1.1,
    better: 'lower',
    unit: 'x',
  },
  { key: 'roll.overhead_ratio', label: 'rolling deploy time vs its unavoidable parts', limit: 1.15, better: 'lower', unit: 'x' },
  {
    key: 'socket.roll_vs_socket_ratio',
    label: 'roll.vs_socket_ratio: rolling-deploy vs a hand-made admin-socket loop, same stack and run, no warm-up',
    limit: 1.2,
    better: 'lower',
    unit: 'x',
  },
  { key: 'socket.roll_vs_socket_ratio_warmup', label: 'the same, warm-up on both sides', limit: 1.2, better: 'lower', unit: 'x' },
  {
    key: 'socket.reaction.drain_to_nolb_max_s',
    label: `agentctl drain to HAProxy NOLB, worst host (one inter, ${CHECK.inter} ms, + 100 ms for agentctl's start)`,
    limit: (CHECK.inter + 100) / 1000,
    better: 'lower',
    unit: 's',
  },
  {
    key: 'socket.reaction.last_request_to_drain_confirmed_max_s',
    label: `last in-flight request done to drain --wait returning, worst host (one inter, ${CHECK.inter} ms, + 100 ms)`,
    limit: (CHECK.inter + 100) / 1000,
    better: 'lower',
    unit: 's',
  },
  {
    key: 'socket.reaction.tomcat_200_to_haproxy_up_median_s',
    label: "Tomcat's first 200 to HAProxy UP, median host, no warm-up",
    better: 'lower',
    unit: 's',
  },
  { key: 'peer.ratio', label: 'rolling deploy time, ours vs Ansible haproxy module', limit: 0.5, better: 'lower', unit: 'x' },
  {
    key: 'accesslog.cpu_us_per_line',
    label: "CPU to follow Tomcat's access log (read, parse, count per deploy), per line",
    better: 'lower',
    unit: 'µs',
  },
  {
    key: 'accesslog.ratio',
    label: 'the same, against reading the lines in one go with one regular expression each',
    better: 'lower',
    unit: 'x',
  },
  {
    key: 'flood.p99_ratio',
    label:
      'check p99 with 10,000 forged views and a pending drain --wait, while 50 status pages load at once every second, vs the same checks alone',
    better: 'lower',
    unit: 'x',
  },
  { key: 'flood.alone.p99_ms', label: 'check p99 with 10,000 forged views and a pending drain --wait', better: 'lower', unit: 'ms' },
  { key: 'accesslog.core_pct_at_e2e_load', label: 'share of a core at the end-to-end load (50 requests/s)', better: 'lower', unit: '%' },
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

type Row = Record<string, unknown>
const num = (v: unknown) => (typeof v === 'number' ? v : undefined)
const sum = (rows: Row[], key: string) => rows.reduce((a, r) => a + (num(r[key]) ?? 0), 0)
const fixed = (v: number | undefined, digits = 2) => (v === undefined ? undefined : v.toFixed(digits))

/** The roll part's per-host breakdown against its floor, and where its overhead goes. */
function rollSection(roll: Row | undefined): string[] {
  const hosts = roll?.per_host as Row[] | undefined
  if (!roll || !hosts) return []
  const unavoidable = roll.unavoidable as Row
  const floors = unavoidable.per_host as Row[]
  const inFlight = num(unavoidable.in_flight_s) ?? 0
  const inter = num(unavoidable.check_interval_s) ?? 0
  const rise = num(unavoidable.rise_x_fastinter_s) ?? 0
  const lines = [
    '## Rolling deploy: where the time goes (`roll`)',
    '',
    `rolling-deploy of ${roll.hosts} Tomcats, v1 -> v2, under load: ${roll.total_s} s against a floor of ${roll.theoretical_min_s} s`,
    `(ratio ${roll.overhead_ratio}), ${roll.failed} failed requests. Seconds per host, from the scripts' own step lines;`,
    'the floor of each step below it, measured on the same stack in the same run.',
    '',
    '![The roll: what HAProxy saw and the agents answered per host, the deploy steps, requests and failures per second](roll-timeline.svg)',
    '',
    row(['host', 'total', 'drain --wait', 'down --wait', 'stop', 'stage + swap', 'start', 'ready --wait', 'bash around the steps']),
    row(['---', '---', '---', '---', '---', '---', '---', '---', '---']),
  ]
  for (const h of hosts) {
    const f = floors.find((x) => x.host === h.host) ?? {}
    lines.push(
      row([
        h.host as string,
        h.total_s as number,
        h.drain_s as number,
        h.down_s as number,
        h.stop_s as number,
        h.stage_and_swap_s as number,
        h.start_s as number,
        h.ready_s as number,
        h.scripts_s as number,
      ]),
    )
    lines.push(
      row([
        `${h.host} floor`,
        f.sum_s as number,
        fixed(inFlight + inter),
        0,
        f.stop_s as number,
        0,
        '-',
        `${fixed((num(f.start_to_first_200_s) ?? 0) + (num(f.warmup_roll_s) ?? 0) + rise)} (start to first 200 + warm-up + rise x fastinter)`,
        0,
      ]),
    )
  }
  const gaps = hosts.map((h) => ((h.timeline as Row | undefined)?.gaps ?? {}) as Row)
  if (gaps.some((g) => Object.keys(g).length > 0)) {
    const keys = Object.keys(gaps.find((g) => Object.keys(g).length > 0) as Row)
    lines.push(
      '',
      'The same hosts as a time line: the gaps (seconds) between what the scripts printed, what HAProxy',
      "showed (`show stat`, sampled every 50 ms) and what the agent recorded (Tomcat up after its probe's rise, warm-up done).",
      '',
      row(['host', ...keys.map((k) => k.replace(/_/g, ' '))]),
      row(['---', ...keys.map(() => '---')]),
      ...hosts.map((h, i) => row([h.host as string, ...keys.map((k) => (gaps[i] as Row)[k] as number | undefined)])),
    )
  }
  const agentctl = roll.agentctl as Row | undefined
  if (agentctl) {
    lines.push(
      '',
      `Overhead ${roll.overhead_s} s in all. agentctl runs ${agentctl.calls_per_host} times per host (pre-deploy's drain then down, post-deploy's ready); one call costs`,
      `${agentctl.agentctl_status_s} s before it does anything (\`agentctl status\`, median of 5, against ${agentctl.node_bare_s} s for a bare \`node -e 0\`):`,
      `${agentctl.total_s} s for the roll, ${fixed((num(agentctl.share_of_overhead) ?? 0) * 100, 0)}% of the overhead. The down steps (not in the floor) add`,
      `${fixed(sum(hosts, 'down_s'))} s, bash around the steps ${fixed(sum(hosts, 'scripts_s'))} s.`,
    )
  }
  return lines
}

/** `3 rounds (1.1, 1.2, 1.3)`: each round's ratio of rolling-deploy to the loop. */
function roundsText(pair: Row): string {
  const ratios = (pair.round_ratios as number[] | undefined) ?? [pair.ratio as number]
  return `${ratios.length} round${ratios.length === 1 ? '' : 's'} (${ratios.join(', ')})`
}

/** The socket part: the admin-socket loop beside rolling-deploy, step by step, per pair. */
function socketSection(socket: Row | undefined): string[] {
  if (!socket) return []
  const lines = [
    '## rolling-deploy vs a hand-made admin-socket loop (`socket`)',
    '',
    'On one stack (the agents on their defaults, HAProxy on the recommended snippet), under the same load, in the',
    'same run: the loop (`set server state drain`, `show stat` every 100 ms until scur 0, `state maint`, stop, swap,',
    "start, first 200 every 100 ms, `state ready`, with the servers' health checks disabled while it runs), then",
    "`scripts/rolling-deploy`, in rounds that alternate the two. Seconds per host; the loop's row first, rolling-deploy's below it.",
    'HAProxy and each Tomcat are sampled every 20 ms during both rolls (about 200 requests a second, which slow a',
    "starting Tomcat by 0.1-0.15 s): the last column is each Tomcat's start to its first 200 as the sampler saw it.",
  ]
  for (const [key, title] of [
    ['without_warmup', 'No warm-up on either side'],
    ['with_warmup', "Warm-up on both sides (the loop requests the agent's warm-up URLs once each before `state ready`)"],
  ] as const) {
    const p = socket[key] as Row | undefined
    if (!p) continue
    const s = ((p.socket as Row).per_host as Row[]) ?? []
    const a = ((p.agent as Row).per_host as Row[]) ?? []
    lines.push(
      '',
      `### ${title}: ratio ${p.ratio}, the median of ${roundsText(p)}; failed requests ${p.agent_failed} and ${p.socket_failed}`,
      '',
      `The median round, step by step: ${p.agent_s} s against ${p.socket_s} s.`,
      '',
      row([
        'host',
        'total',
        'drain until scur 0 / drain --wait',
        'maint / down --wait',
        'stop',
        'swap / stage + swap',
        'start until first 200 (+ warm-up) + ready / start + ready --wait',
        'bash around the steps',
        "Tomcat's start to first 200",
      ]),
      row(['---', '---', '---', '---', '---', '---', '---', '---', '---']),
    )
    for (const h of s) {
      const o = a.find((x) => x.host === h.host) ?? {}
      const back = (num(h.start_to_first_200_s) ?? 0) + (num(h.warmup_s) ?? 0) + (num(h.ready_s) ?? 0)
      lines.push(
        row([
          `${h.host} loop`,
          h.total_s as number,
          h.drain_s as number,
          h.maint_s as number,
          h.stop_s as number,
          h.swap_s as number,
          fixed(back),
          0,
          num(h.tomcat_start_to_first_200_s),
        ]),
      )
      lines.push(
        row([
          `${h.host} rolling-deploy`,
          o.total_s as number,
          o.drain_s as number,
          o.down_s as number,
          o.stop_s as number,
          o.stage_and_swap_s as number,
          fixed((num(o.start_s) ?? 0) + (num(o.ready_s) ?? 0)),
          o.scripts_s as number,
          num(o.tomcat_start_to_first_200_s),
        ]),
      )
    }
  }
  const r = socket.reaction as Row | undefined
  if (r) {
    lines.push(
      '',
      'Reaction in every rolling-deploy of both pairs (HAProxy and each Tomcat sampled every 20 ms; the drain figures over',
      "every host of every round, Tomcat's first 200 to UP over the pair without warm-up). Tomcat's first 200 is when the first",
      `request the bench saw answered 200 after the restart came back; that request took ${r.tomcat_first_200_took_median_s} s (median): a`,
      "Tomcat's first answers after its start are slow, and the agent's own probes pass meanwhile.",
      '',
      row(['figure', 'median', 'worst']),
      row(['---', '---', '---']),
      row(['`agentctl drain` to HAProxy NOLB (s)', r.drain_to_nolb_median_s as number, r.drain_to_nolb_max_s as number]),
      row([
        'last in-flight request done (scur 0) to `drain --wait` returning (s)',
        r.last_request_to_drain_confirmed_median_s as number,
        r.last_request_to_drain_confirmed_max_s as number,
      ]),
      row([
        "Tomcat's first 200 to HAProxy UP (s)",
        r.tomcat_200_to_haproxy_up_median_s as number,
        r.tomcat_200_to_haproxy_up_max_s as number,
      ]),
    )
  }
  return lines
}

/** The peer part: the Ansible module's roll against ours, per host, with what each failed. */
function peerSection(peer: Row | undefined): string[] {
  if (!peer) return []
  const ansible = peer.ansible as Row
  const ours = peer.agent as Row
  const aHosts = (ansible.per_host as Row[]).filter((h) => /^t\d+$/.test(String(h.host)))
  const oHosts = ours.per_host as Row[]
  const startup = (ansible.per_host as Row[]).find((h) => !/^t\d+$/.test(String(h.host)))
  const task = (h: Row, match: RegExp) => {
    const tasks = h.tasks as Record<string, number>
    return fixed(
      Object.entries(tasks)
        .filter(([k]) => match.test(k))
        .reduce((a, [, v]) => a + v, 0),
    )
  }
  const settings = ansible.module_settings as Row
  const lines = [
    '## Ours vs the Ansible haproxy module (`peer`)',
    '',
    `The same 3-host roll on one stack under the same load: ${ansible.version}, community.general ${ansible.community_general}`,
    `(\`bench/ansible/roll.yml\`, wait_interval ${settings.wait_interval}, wait_retries ${settings.wait_retries}), then \`scripts/rolling-deploy\`.`,
    '',
    row(['', 'total (s)', 'until every server was UP again (s)', 'failed requests', 'HAProxy econ / eresp']),
    row(['---', '---', '---', '---', '---']),
    row([
      'Ansible',
      peer.ansible_s as number,
      peer.ansible_until_all_up_s as number,
      peer.ansible_failed as number,
      `${((ansible.load as Row).haproxy as Row).econ} / ${((ansible.load as Row).haproxy as Row).eresp}`,
    ]),
    row([
      'rolling-deploy',
      peer.agent_s as number,
      peer.agent_until_all_up_s as number,
      peer.agent_failed as number,
      `${((ours.load as Row).haproxy as Row).econ} / ${((ours.load as Row).haproxy as Row).eresp}`,
    ]),
    '',
    `Per host, seconds (Ansible: from one task's banner to the next, its own overhead included; playbook start-up ${startup?.total_s ?? '-'} s):`,
    '',
    row([
      'host',
      'Ansible',
      'drain + wait',
      'disable + wait',
      'stop',
      'remove + copy WAR',
      'start',
      'enable + wait',
      'ours',
      'ours: drain',
      'down',
      'stop',
      'ready',
    ]),
    row(['---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---', '---']),
  ]
  for (const h of aHosts) {
    const o = oHosts.find((x) => x.host === h.host) ?? {}
    lines.push(
      row([
        h.host as string,
        h.total_s as number,
        task(h, /^drain/),
        task(h, /^disable/),
        task(h, /^stop/),
        task(h, /^(remove|copy)/),
        task(h, /^start/),
        task(h, /^enable/),
        o.total_s as number,
        o.drain_s as number,
        o.down_s as number,
        o.stop_s as number,
        o.ready_s as number,
      ]),
    )
  }
  const timeline = ansible.haproxy_timeline as Row[] | undefined
  if (timeline?.length) {
    lines.push(
      '',
      "HAProxy's status during the Ansible roll (seconds from just before the load started; the playbook started once the load was served):",
      '',
      `\`${timeline.map((c) => `${c.at_s} ${c.server} ${c.status}`).join(' | ')}\``,
    )
  }
  return lines
}

/** RESULTS.md: the machine, each target with its measured figure, the findings, and every figure of every part. */
export function renderResults(results: Results, findingsFile?: string): string {
  const machine = results.machine as Record<string, unknown>
  const loads = Object.entries(results)
    .filter(([part, figures]) => part !== 'machine' && Array.isArray((figures as Row | undefined)?.load_avg_1m))
    .map(([part, figures]) => `${part} ${((figures as Row).load_avg_1m as number[]).join(' -> ')}`)
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (bench/run.ts) from `bench/results.json`. Every speed figure that',
    'matters is a ratio against a baseline measured in the same run, or a median of several runs.',
    '',
    `Machine: ${machine.cpus} x ${machine.cpu_model}, ${machine.memory_gib} GiB; Node.js ${machine.node}; agent ${machine.agent}; ${machine.haproxy}; ${machine.wrk}.`,
    ...(loads.length ? ['', `1-minute load average before -> after each part: ${loads.join('; ')}.`] : []),
    '',
    '## Targets',
    '',
    row(['target', 'limit', 'measured', 'met']),
    row(['---', '---', '---', '---']),
  ]
  for (const target of TARGETS) {
    const value = lookup(results, target.key)
    const limit = target.limit
    const met =
      value === undefined
        ? 'not measured'
        : limit === undefined
          ? 'figure'
          : (target.better === 'higher' ? value >= limit : value <= limit)
            ? 'yes'
            : '**no**'
    const shown = limit === undefined ? 'none set' : `${target.better === 'higher' ? '>=' : '<='} ${limit} ${target.unit}`
    lines.push(row([`${target.label} (\`${target.key}\`)`, shown, value === undefined ? undefined : `${value} ${target.unit}`, met]))
  }
  if (findingsFile && existsSync(findingsFile)) lines.push('', readFileSync(findingsFile, 'utf8').trimEnd())
  const roll = rollSection(results.roll as Row | undefined)
  if (roll.length) lines.push('', ...roll)
  const socket = socketSection(results.socket as Row | undefined)
  if (socket.length) lines.push('', ...socket)
  const peer = peerSection(results.peer as Row | undefined)
  if (peer.length) lines.push('', ...peer)
  lines.push('', '## All figures')
  for (const [part, figures] of Object.entries(results)) {
    if (part === 'machine') continue
    lines.push('', `### ${part}`, '', '```json', JSON.stringify(figures, null, 2), '```')
  }
  return `${lines.join('\n')}\n`
}
