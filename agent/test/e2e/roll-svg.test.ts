import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { renderRollSvg, runs, perSecond, escapeXml } from './roll-svg.js'
import { markOf, RollRecorder, type RollSample } from './roll-timeline.js'
import { startAgent, tempDir } from '../helpers/agent.js'
import { openChromium } from '../helpers/browser.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { httpRequest } from '../helpers/http.js'
import { freePort } from '../helpers/system.js'
import { waitFor } from '../helpers/wait.js'

declare const document: { querySelectorAll(selector: string): { length: number } }

const sample = (at: number, status: string, code: string, requests: number, failures = 0): RollSample => ({
  at,
  servers: { t1: { status, checkCode: code } },
  requests,
  failures,
})

t.test('runs, rates and marks', async (t) => {
  const samples = [
    sample(0, 'UP', '200', 0),
    sample(100, 'UP', '404', 10),
    sample(200, 'NOLB', '404', 30),
    sample(1200, 'NOLB', '404', 50, 2),
  ]
  t.same(
    runs(samples, (s) => s.servers.t1?.status, 1500),
    [
      [0, 200, 'UP'],
      [200, 1500, 'NOLB'],
    ],
  )
  t.same(
    runs(samples, (s) => s.servers.t1?.checkCode, 1500),
    [
      [0, 100, '200'],
      [100, 1500, '404'],
    ],
  )
  t.same(perSecond(samples, 0), [
    { second: 0, requests: 30, failures: 0 },
    { second: 1, requests: 20, failures: 2 },
  ])
  t.same(markOf('[1/3 t1] pre-deploy: step: drain and wait until every load balancer confirms', 5000), {
    at: 5000,
    host: 't1',
    label: 'drain',
  })
  t.same(markOf('[2/3 t2] deploy-war: step: stop tomcat', 1000), { at: 1000, host: 't2', label: 'stop' })
  t.equal(markOf('[2/3 t2] deploy-war: step: stage /tmp/x/app-v2.war', 1000), null, 'steps without a mark')
  t.equal(markOf('[1/3 t1] pre-deploy: done: drain and wait until every load balancer confirms (2.5 s)', 1), null)
  t.equal(markOf('rolling-deploy: host 1/3 t1: starting', 1), null)
  t.equal(escapeXml('<a & "b">'), '&lt;a &amp; &quot;b&quot;&gt;')
})

t.test('a drain recorded from a real HAProxy 2.6 renders as a well-formed SVG (checked in Chromium)', async (t) => {
  const agent = await startAgent(t)
  const frontend = await freePort()
  // The agent's health listener stands in as the server: requests through HAProxy get its text page.
  const haproxy = await startHaproxy(
    t,
    agent.dir,
    `defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout check 2s

frontend fe
    bind 127.0.0.1:${frontend}
    default_backend be

backend be
    option httpchk GET /health
    http-check disable-on-404
    http-check send-state
    default-server check inter 1s fastinter 250ms downinter 1s rise 2 fall 2
    server t1 127.0.0.1:${agent.healthPort}`,
    'lb1',
    ['node lb1'],
  )
  await waitFor('HAProxy to see the server UP', async () => (await haproxy.serverStat('be', 't1')).status === 'UP', { timeoutMs: 30_000 })
  const recorder = new RollRecorder({ showStat: () => haproxy.showStat(), backend: 'be', frontend: 'fe', everyMs: 50 })
  recorder.start()
  for (let i = 0; i < 20; i++) t.equal((await httpRequest(`http://127.0.0.1:${frontend}/`)).status, 200)
  recorder.line('[1/1 t1] pre-deploy: step: drain and wait until every load balancer confirms')
  await agent.admin('PUT', '/v1/state', { state: 'drain' })
  await waitFor('HAProxy to see it NOLB', async () => (await haproxy.serverStat('be', 't1')).status === 'NOLB', { timeoutMs: 30_000 })
  const timeline = await recorder.stop()
  t.same(timeline.hosts, ['t1'])
  t.ok(
    timeline.samples.some((s) => s.servers['t1']?.checkCode === '404'),
    "the agent's 404 was recorded",
  )
  t.ok(timeline.samples.at(-1)!.requests >= 20, 'the frontend counted the requests')

  const svg = renderRollSvg(timeline, 'drain test <&>')
  t.match(svg, /<title>NOLB<\/title>/)
  t.match(svg, /<title>404<\/title>/)
  t.match(svg, />drain test &lt;&amp;&gt;: 1 hosts/, 'text is escaped')
  t.match(svg, /<line class="mark"[^>]*\/>\n<text [^>]*>drain<\/text>/, 'the drain is marked')
  t.notMatch(svg, /NaN|undefined/)
  const file = join(tempDir(t), 'roll.svg')
  writeFileSync(file, svg)

  const context = await openChromium(t, 'svg-browser-')
  const page = await context.newPage()
  await page.goto(pathToFileURL(file).href)
  const counts = await page.evaluate(() => [
    document.querySelectorAll('parsererror').length,
    document.querySelectorAll('g.host').length,
    document.querySelectorAll('rect.haproxy').length,
    document.querySelectorAll('polyline.rate').length,
  ])
  t.same(counts.slice(0, 2), [0, 1], 'parses as SVG, one host group')
  t.ok((counts[2] ?? 0) >= 2, 'UP and NOLB bands')
  t.equal(counts[3], 1, 'a request rate line')
})
