import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { recommendedCheckLines } from '../helpers/snippet.js'
import { type Page } from 'playwright-core'
import { openChromium } from '../helpers/browser.js'
import { startAgent } from '../helpers/agent.js'
import { agentctl } from '../helpers/cli.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { waitFor } from '../helpers/wait.js'

/** The page's document, as far as these checks use it (the tests compile without the DOM library). */
declare const document: {
  getElementById(id: string): { textContent: string | null } | null
  querySelector(selector: string): { textContent: string | null } | null
}

/** Kept after the run for a person to look at; never in git. */
const ARTEFACTS = process.env.TEST_ARTEFACT_DIR ?? join(tmpdir(), 'tomcat-health-agent-artefacts')

/** The snippet's check settings (haproxy-snippets/httpchk-backend.cfg), pointed at the agent. */
function haproxyConfig(agentPort: number): string {
  return `defaults
    mode http
    timeout connect 1s
    timeout client 20s
    timeout server 20s

backend tomcats
${recommendedCheckLines(agentPort)}
    server web1 127.0.0.1:${agentPort}`
}

/** Everything that did not load or failed on the page, as one list of lines. */
function watchFailures(page: Page): { failures: string[]; stop(): void } {
  const failures: string[] = []
  let on = true
  page.on('requestfailed', (r) => on && failures.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
  page.on('response', (r) => on && r.status() >= 400 && failures.push(`HTTP ${r.status()}: ${r.url()}`))
  page.on('console', (m) => on && m.type() === 'error' && failures.push(`console error: ${m.text()}`))
  page.on('pageerror', (e) => on && failures.push(`page error: ${e.message}`))
  return { failures, stop: () => (on = false) }
}

const cellText = (page: Page, lb: string, column: number) => page.locator(`#lbs tr[data-lb="${lb}"] td:nth-child(${column})`).textContent()

t.test(
  'status page in Chromium: two HAProxy 2.6 rows and an expected one missing, a drain shown within a second, nothing fails to load',
  async (t) => {
    const agent = await startAgent(t, { expectLb: 'lb1,lb2,lb3' })
    const env = { HEALTH_AGENT_URL: agent.adminUrl, HEALTH_AGENT_TOKEN_FILE: join(agent.dir, 'admin-token') }
    for (const node of ['lb1', 'lb2']) await startHaproxy(t, agent.dir, haproxyConfig(agent.healthPort), node, [`node ${node}`])
    const nodes = () =>
      agent.agent.core.lb.views
        .list()
        .filter((v) => v.state?.status === 'UP')
        .map((v) => v.node)
    await waitFor('lb1 and lb2 to report the server UP', () => nodes().includes('lb1') && nodes().includes('lb2'), { timeoutMs: 30_000 })

    const context = await openChromium(t, 'page-browser-')
    const page = await context.newPage()
    const watch = watchFailures(page)
    await page.goto(`${agent.healthUrl}/status`)
    await page.waitForFunction(() => document.getElementById('link')?.textContent === 'live', undefined, { timeout: 10_000 })
    await page.waitForSelector('#lbs tr[data-lb="lb3"]', { timeout: 10_000 })
    t.equal(await page.textContent('#state'), 'ready')
    t.equal(await page.getAttribute('#banner', 'class'), 'state-ready')
    t.same(
      await page.locator('#lbs tr.lb').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-lb'))),
      ['lb1', 'lb2', 'lb3'],
      'one row per load balancer, the missing one too',
    )
    t.equal(await cellText(page, 'lb1', 2), 'tomcats/web1')
    t.match(await cellText(page, 'lb1', 3), /^UP/)
    t.match(await cellText(page, 'lb2', 3), /^UP/)
    t.equal(await cellText(page, 'lb3', 2), 'has not checked')
    t.notOk((await page.content()).includes(agent.token), 'the token is not on the page')

    // From `agentctl drain` to the open page showing it.
    const shown = page
      .waitForFunction(() => document.getElementById('state')?.textContent === 'drain', undefined, { polling: 'raf', timeout: 10_000 })
      .then(() => Date.now())
    const started = Date.now()
    const drain = await agentctl(['drain', '--reason', 'page test', '--by', 'tester'], env)
    const exited = Date.now()
    const seen = await shown
    t.equal(drain.code, 0, drain.stderr)
    const applied = Date.parse(agent.agent.core.store.current?.since ?? '')
    const fromApplied = seen - applied
    t.comment(
      `drain: agentctl started -> page shows it ${seen - started} ms (agentctl ran ${exited - started} ms; agent applied it -> page ${fromApplied} ms)`,
    )
    t.ok(fromApplied < 1000, `the page showed the drain ${fromApplied} ms after the agent applied it`)
    t.ok(seen - exited < 1000, `and at most 1 s after agentctl returned (${seen - exited} ms: negative is before)`)
    t.equal(await page.getAttribute('#banner', 'class'), 'state-drain')
    t.notMatch(await page.textContent('body'), /page test|tester/, 'who and why stay off the public page')

    // HAProxy reports NOLB from its second check after the 404 (the header carries the state before the check);
    // lb3 never checks, so the drain stays unconfirmed and the page says why.
    for (const lb of ['lb1', 'lb2']) {
      await page.waitForFunction(
        (name) => document.querySelector(`#lbs tr[data-lb="${name}"] td:nth-child(8)`)?.textContent === 'yes',
        lb,
        { timeout: 20_000 },
      )
      t.match(await cellText(page, lb, 3), /^NOLB/, `${lb} NOLB`)
      t.equal(await cellText(page, lb, 4), '0', `${lb} scur 0`)
    }
    t.match(await page.textContent('#goal'), /^drained: 2 of 3 confirm, .*waiting for: expected load balancer lb3 has not checked/)
    t.match(await page.textContent('#history tbody tr:first-child'), /ready → drain/)

    mkdirSync(ARTEFACTS, { recursive: true })
    const shot = join(ARTEFACTS, 'status-page.png')
    await page.screenshot({ path: shot, fullPage: true })
    t.comment(`screenshot: ${shot}`)
    watch.stop()
    t.same(watch.failures, [], 'nothing on the page failed to load')
  },
)
