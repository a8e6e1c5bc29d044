import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../agent/src/package-info.js'
import { startStack, writeAppWar, type Stack } from '../../agent/test/e2e/stack.js'
import { ansibleBaseEnv } from '../../agent/test/helpers/ansible.js'
import {
  allUp,
  loadSummary,
  parseDeploySteps,
  servedVersions,
  stepBreakdown,
  timedRollingDeploy,
  underLoad,
  watchStatuses,
  type StatusChange,
  type TimedLine,
} from '../deploy.js'
import { registrar, requireCommand, round, type BenchContext } from '../lib.js'

const PLAYBOOK = join(PACKAGE_ROOT, 'bench/ansible/roll.yml')
/** The module's defaults, as users have them (community.general.haproxy: wait_interval 5, wait_retries 25). */
const MODULE_SETTINGS = { wait_interval: 5, wait_retries: 25 }
/** A roll that has not ended by then is stuck: the playbook is killed (its whole process group). */
const PLAYBOOK_TIMEOUT_MS = 15 * 60_000

interface PlaybookRun {
  startedAt: number
  code: number | null
  seconds: number
  output: string
  lines: TimedLine[]
}

function versionLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: ansibleEnv('/tmp') })
  return (result.stdout || result.stderr || '').trim()
}

/** The playbook runs on this machine (-c local): the base environment and no retry files. */
function ansibleEnv(tmp: string): NodeJS.ProcessEnv {
  return {
    ...ansibleBaseEnv(tmp),
    ANSIBLE_REMOTE_TMP: join(tmp, 'ansible-tmp'),
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
    ANSIBLE_RETRY_FILES_ENABLED: 'false',
  }
}

/** Runs the playbook; each output line time-stamped as it comes. */
function runPlaybook(ctx: BenchContext, varsFile: string): Promise<PlaybookRun> {
  const dir = join(ctx.tmp, 'ansible')
  mkdirSync(dir, { recursive: true })
  const started = Date.now()
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout ends the module processes it forked too.
    const child = spawn('ansible-playbook', ['-i', 'localhost,', '-c', 'local', '-e', `@${varsFile}`, PLAYBOOK], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: ansibleEnv(dir),
      detached: true,
    })
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    ctx.cleanups.push(killGroup)
    const timer = setTimeout(killGroup, PLAYBOOK_TIMEOUT_MS)
    const lines: TimedLine[] = []
    let output = ''
    let partial = ''
    const take = (chunk: Buffer) => {
      output += chunk.toString()
      partial += chunk.toString()
      const parts = partial.split('\n')
      partial = parts.pop() ?? ''
      for (const line of parts) lines.push({ at: Date.now(), line })
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ startedAt: started, code, seconds: (Date.now() - started) / 1000, output, lines })
    })
  })
}

const TASK = /^TASK \[(?:(t\d+): )?(.*?)\] \*+$/
const RECAP = /^PLAY RECAP \*+$/

/**
 * Per host and task, the time from a task's banner to the next banner: what the task took,
 * Ansible's own cost of running it included.
 */
function taskTimes(run: PlaybookRun): Array<{ host: string; total_s: number; tasks: Record<string, number> }> {
  const marks: Array<{ at: number; host: string | null; task: string }> = []
  for (const { at, line } of run.lines) {
    const task = TASK.exec(line)
    if (task) marks.push({ at, host: task[1] ?? null, task: task[2] as string })
    else if (RECAP.test(line)) marks.push({ at, host: null, task: 'recap' })
  }
  const hosts = new Map<string, { host: string; total_s: number; tasks: Record<string, number> }>()
  marks.forEach((mark, i) => {
    const next = marks[i + 1]
    if (!mark.host || !next) return
    let entry = hosts.get(mark.host)
    if (!entry) hosts.set(mark.host, (entry = { host: mark.host, total_s: 0, tasks: {} }))
    const seconds = (next.at - mark.at) / 1000
    entry.tasks[mark.task] = round((entry.tasks[mark.task] ?? 0) + seconds, 2)
    entry.total_s = round(entry.total_s + seconds, 2)
  })
  const first = marks.find((m) => m.host)
  return [
    ...(first ? [{ host: 'playbook start-up and include', total_s: round((first.at - run.startedAt) / 1000, 2), tasks: {} }] : []),
    ...hosts.values(),
  ]
}

/** Seconds from `since` until the last server of the time line turned UP for good. */
function wholeAgain(changes: StatusChange[], since: number): number | null {
  const last = new Map<string, StatusChange>()
  for (const change of changes) last.set(change.server, change)
  const finals = [...last.values()]
  if (finals.some((c) => c.status !== 'UP')) return null
  return round((Math.max(...finals.map((c) => c.at)) - since) / 1000, 2)
}

function writeVars(ctx: BenchContext, stack: Stack, war: string): string {
  const file = join(ctx.tmp, 'ansible-vars.json')
  const vars = {
    haproxy_socket: stack.haproxy.socket,
    haproxy_backend: 'be',
    context: 'app',
    war,
    ...MODULE_SETTINGS,
    tomcats: stack.hosts.map((h) => ({ name: h.name, catalina_base: h.tomcat.base, start_cmd: h.startScript, stop_cmd: h.stopScript })),
  }
  writeFileSync(file, `${JSON.stringify(vars, null, 2)}\n`)
  return file
}

/**
 * The same three-host roll driven two ways on one stack under the same load: Ansible's
 * community.general.haproxy module (what operators use today), then scripts/rolling-deploy.
 */
export async function run(ctx: BenchContext): Promise<Record<string, unknown>> {
  requireCommand('ansible-playbook', 'install it with: sudo scripts/install-system-deps.sh --bench')
  const collection = versionLine('ansible-galaxy', ['collection', 'list', 'community.general', '--format', 'json'])
  const communityGeneral = /"version": "([^"]+)"/.exec(collection)?.[1]
  if (!communityGeneral) throw new Error(`community.general is not installed (Debian's ansible package has it):\n${collection}`)
  const v1 = writeAppWar(ctx.tmp, 'v1')
  const v2 = writeAppWar(ctx.tmp, 'v2')
  const v3 = writeAppWar(ctx.tmp, 'v3')
  ctx.log('peer: starting the stack (HAProxy, 3 Tomcats, 3 agents)')
  const stack = await startStack(registrar(ctx), ctx.tmp, { war: v1 })
  const inventory = stack.writeInventory(join(ctx.tmp, 'inventory'))
  await allUp(stack)

  ctx.log('peer: Ansible community.general.haproxy roll v1 -> v2 under load')
  const varsFile = writeVars(ctx, stack, v2)
  const ansibleWatch = watchStatuses(stack)
  const ansible = await underLoad(stack, ['v1', 'v2'], () => runPlaybook(ctx, varsFile))
  if (ansible.result.code !== 0) throw new Error(`ansible-playbook exited ${ansible.result.code}:\n${ansible.result.output}`)
  // The playbook may end before the last server is back: the watch goes on until all are UP.
  await allUp(stack)
  const ansibleTimeline = await ansibleWatch.stop()
  const afterAnsible = await servedVersions(stack)
  if (afterAnsible.some((v) => v !== 'v2')) throw new Error(`after the Ansible roll the Tomcats serve ${afterAnsible.join(', ')}`)

  ctx.log('peer: rolling-deploy v2 -> v3 under the same load')
  const oursWatch = watchStatuses(stack)
  const oursStart = Date.now()
  const ours = await underLoad(stack, ['v2', 'v3'], () => timedRollingDeploy(inventory, v3))
  await allUp(stack)
  const oursTimeline = await oursWatch.stop()
  if (ours.result.code !== 0) throw new Error(`rolling-deploy exited ${ours.result.code}:\n${ours.result.output}`)
  const afterOurs = await servedVersions(stack)
  if (afterOurs.some((v) => v !== 'v3')) throw new Error(`after rolling-deploy the Tomcats serve ${afterOurs.join(', ')}`)

  const ansibleS = ansible.result.seconds
  const agentS = ours.result.seconds
  return {
    ansible_s: round(ansibleS, 2),
    agent_s: round(agentS, 2),
    ratio: round(agentS / ansibleS, 3),
    ansible_failed: ansible.report.failed,
    agent_failed: ours.report.failed,
    // Until HAProxy had every server UP again (the playbook can end with the last one still DOWN).
    ansible_until_all_up_s: wholeAgain(ansibleTimeline, ansible.result.startedAt),
    agent_until_all_up_s: wholeAgain(oursTimeline, oursStart),
    ansible: {
      version: versionLine('ansible-playbook', ['--version']).split('\n')[0],
      community_general: communityGeneral,
      playbook: 'bench/ansible/roll.yml (+ host.yml), ansible-playbook -i localhost, -c local, gather_facts false',
      module_settings: {
        ...MODULE_SETTINGS,
        drain_task: 'state drain, drain true, wait true',
        disable_task: 'state disabled, wait true',
        enable_task: 'state enabled, wait true',
      },
      per_host: taskTimes(ansible.result),
      load: loadSummary(ansible),
      haproxy_timeline: ansibleTimeline.map(({ at_s, server, status }) => ({ at_s, server, status })),
    },
    agent: {
      command: 'scripts/rolling-deploy (deploy-war on each host: agentctl drain --wait, down --wait, stop, swap, start, ready --wait)',
      per_host: parseDeploySteps(ours.result.lines).map((h) => ({ host: h.host, total_s: h.total_s, ...stepBreakdown(h) })),
      load: loadSummary(ours),
      haproxy_timeline: oursTimeline.map(({ at_s, server, status }) => ({ at_s, server, status })),
    },
  }
}
