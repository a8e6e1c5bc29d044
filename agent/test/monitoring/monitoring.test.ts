import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { startAgent, tempDir } from '../helpers/agent.js'
import { requireBinary } from '../helpers/system.js'

const run = promisify(execFile)
const FOLDER = join(PACKAGE_ROOT, 'scripts/monitoring')
const RULES = join(FOLDER, 'alerts.yml')
const RULE_TESTS = join(FOLDER, 'alerts.test.yml')
const DASHBOARD = join(FOLDER, 'grafana-dashboard.json')

interface Panel {
  type: string
  title: string
  targets?: Array<{ expr: string }>
}
interface Dashboard {
  panels: Panel[]
  templating: { list: Array<{ definition?: string }> }
  annotations: { list: Array<{ expr?: string }> }
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard

/** Every PromQL expression of the dashboard, with Grafana's variables put in as Prometheus would get them. */
function dashboardExpressions(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = []
  for (const panel of dashboard.panels)
    for (const target of panel.targets ?? []) out.push({ where: `panel "${panel.title}"`, expr: target.expr })
  for (const a of dashboard.annotations.list) if (a.expr) out.push({ where: 'annotation', expr: a.expr })
  return out.map(({ where, expr }) => ({ where, expr: expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '5m') }))
}

function metricNames(text: string): Set<string> {
  return new Set(text.match(/\bhealth_agent_[a-z0-9_]+/g) ?? [])
}

t.test('every metric the alerts and the dashboard use is exposed by a running agent', async (t) => {
  // Every family is registered at start; an expected load balancer gives the silent-LB gauge a series.
  const agent = await startAgent(t, { expectLb: 'lb1' })
  const text = await (await fetch(`${agent.healthUrl}/metrics`)).text()
  const types = new Map<string, string>()
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(name as string, type as string)
  const exposed = (name: string) => {
    if (types.has(name)) return true
    const base = name.replace(/_(bucket|sum|count)$/, '')
    return base !== name && types.get(base) === 'histogram'
  }
  const sources: Array<[string, string]> = [
    ['alerts.yml', readFileSync(RULES, 'utf8')],
    ['alerts.test.yml', readFileSync(RULE_TESTS, 'utf8')],
    ['grafana-dashboard.json', readFileSync(DASHBOARD, 'utf8')],
  ]
  const all = new Set<string>()
  for (const [file, content] of sources) {
    const names = metricNames(content)
    t.ok(names.size > 0, `${file} uses metrics`)
    for (const name of names) {
      all.add(name)
      t.ok(exposed(name), `${file}: ${name} is in /metrics`)
    }
  }
  t.ok(all.size >= 20, `${all.size} metric names checked`)
  t.match(text, /^health_agent_lb_expected_silent\{lb="lb1"\} 1$/m, 'an expected LB that never checked is silent')
})

t.test('promtool: the rules are valid and each alert fires on what it says (promtool test rules)', async (t) => {
  const promtool = requireBinary('promtool')
  const check = await run(promtool, ['check', 'rules', RULES])
  t.match(check.stdout, /SUCCESS: 7 rules found/)
  const tests = await run(promtool, ['test', 'rules', RULE_TESTS], { cwd: FOLDER })
  t.match(tests.stdout, /SUCCESS/)
})

t.test('promtool parses every query of the dashboard', async (t) => {
  const promtool = requireBinary('promtool')
  const expressions = dashboardExpressions()
  t.ok(expressions.length >= 25, `${expressions.length} queries`)
  const rules = {
    groups: [{ name: 'dashboard', rules: expressions.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr })) }],
  }
  const file = join(tempDir(t), 'dashboard-rules.json')
  // JSON is YAML: promtool reads it as a rule file.
  writeFileSync(file, JSON.stringify(rules))
  const check = await run(promtool, ['check', 'rules', file]).catch((err: { stdout?: string; stderr?: string }) => err)
  t.match(check.stdout, new RegExp(`SUCCESS: ${expressions.length} rules found`), check.stderr ?? '')
  for (const panel of dashboard.panels)
    if (panel.type !== 'row') t.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has a query`)
})
