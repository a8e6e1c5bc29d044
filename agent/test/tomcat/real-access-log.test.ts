import t from 'tap'
import { startAgent, tempDir, type RunningAgent } from '../helpers/agent.js'
import { httpRequest } from '../helpers/http.js'
import { ACCESS_LOG_PATTERN, Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'

/**
 * The agent follows a real Tomcat 10's access log (the helper's AccessLogValve, pattern copied
 * from server.xml with its &quot;): per-deploy counts by status class and the latency histogram
 * on /metrics, a Tomcat restart as a new deploy, and an agent restart that counts the lines
 * written while it was stopped, once.
 */

type Series = Map<string, number>

async function metrics(agent: RunningAgent): Promise<Series> {
  const res = await httpRequest(`${agent.healthUrl}/metrics`)
  const series: Series = new Map()
  for (const line of res.body.split('\n')) {
    const match = /^(health_agent_access_\S+) (\S+)$/.exec(line)
    if (match) series.set(match[1] as string, Number(match[2]))
  }
  return series
}

const responses = (s: Series, deploy: string, cls: string) =>
  s.get(`health_agent_access_responses_total{deploy="${deploy}",class="${cls}"}`) ?? 0
const bucket = (s: Series, deploy: string, le: string) =>
  s.get(`health_agent_access_request_duration_seconds_bucket{le="${le}",deploy="${deploy}"}`) ?? 0
const deploys = (s: Series) =>
  [...new Set([...s.keys()].map((k) => /deploy="([^"]+)"/.exec(k)?.[1]).filter((d): d is string => d !== undefined))].sort()

async function requests(tomcat: Tomcat, path: string, count: number, expect: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await httpRequest(tomcat.url(path))
    if (res.status !== expect) throw new Error(`${path} answered ${res.status}, expected ${expect}`)
  }
}

t.test('a real Tomcat 10 access log, counted per deploy on /metrics', async (t) => {
  const tomcat = await Tomcat.create(t, { name: 'access' })
  const app = writeWebapp(tempDir(t), {
    'health.txt': 'UP\n',
    'index.jsp': '<%@ page contentType="text/plain" %>ok\n',
    'fail.jsp': '<% response.setStatus(500); %>failed\n',
    'slow.jsp': '<% Thread.sleep(300); %>slow\n',
  })
  tomcat.deployDir('/app', app)
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')
  // Compile the JSPs before the agent reads the log: the first request to each is slow.
  for (const page of ['/app/index.jsp', '/app/slow.jsp']) await requests(tomcat, page, 1, 200)
  await requests(tomcat, '/app/fail.jsp', 1, 500)

  const dir = tempDir(t)
  const flags = {
    tomcatUrl: tomcat.url('/app/health.txt'),
    tomcatPidFile: tomcat.pidFile,
    accessLogFile: tomcat.accessLog,
    accessLogPattern: ACCESS_LOG_PATTERN,
  }
  let agent = await startAgent(t, flags, dir)
  await waitFor('the agent to answer 200', async () => (await agent.check()).status === 200, { timeoutMs: 30_000 })
  const first = deploys(await metrics(agent))
  t.equal(first.length, 1, 'one deploy: the Tomcat the agent found running')
  const deployA = first[0] as string

  await requests(tomcat, '/app/index.jsp', 20, 200)
  await requests(tomcat, '/app/fail.jsp', 5, 500)
  await requests(tomcat, '/app/slow.jsp', 3, 200)
  await requests(tomcat, '/app/missing', 2, 404)
  let s = await waitFor('the requests on /metrics', async () => {
    const m = await metrics(agent)
    return responses(m, deployA, '5xx') === 5 && responses(m, deployA, '4xx') === 2 && responses(m, deployA, '2xx') >= 23 ? m : false
  })
  t.equal(responses(s, deployA, '5xx'), 5, 'the history before the first start is not counted')
  const count = s.get(`health_agent_access_request_duration_seconds_count{deploy="${deployA}"}`) ?? 0
  // %D is microseconds in Tomcat 10: the three 300 ms pages, and only they, are above 0.25 s.
  t.equal(count - bucket(s, deployA, '0.25'), 3, 'three requests above 0.25 s')
  t.equal(bucket(s, deployA, '1'), count, 'none above 1 s')
  t.equal(s.get('health_agent_access_log_errors_total{kind="unparsed"}'), 0, 'every line parsed')

  // A Tomcat restart (a deploy): a new deploy label, the old one kept beside it.
  await tomcat.stop()
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')
  s = await waitFor(
    'a second deploy',
    async () => {
      const m = await metrics(agent)
      return deploys(m).length === 2 ? m : false
    },
    { timeoutMs: 30_000 },
  )
  const deployB = deploys(s).find((d) => d !== deployA) as string
  t.ok(deployB > deployA, `the new deploy ${deployB} is named after the old ${deployA}`)
  await requests(tomcat, '/app/fail.jsp', 2, 500)
  s = await waitFor('the new deploy counts', async () => {
    const m = await metrics(agent)
    return responses(m, deployB, '5xx') === 2 ? m : false
  })
  t.equal(responses(s, deployA, '5xx'), 5, 'the old deploy keeps its counts')

  // An agent restart: lines written while it is stopped are counted once, none twice.
  await agent.agent.close()
  await requests(tomcat, '/app/fail.jsp', 3, 500)
  agent = await startAgent(t, flags, dir)
  s = await waitFor('the lines written while the agent was stopped', async () => {
    const m = await metrics(agent)
    const only = deploys(m)[0]
    return only !== undefined && responses(m, only, '5xx') === 3 ? m : false
  })
  t.equal(deploys(s).length, 1, 'a new agent starts with one deploy')
  const again = await metrics(agent)
  t.equal(responses(again, deploys(again)[0] as string, '5xx'), 3, 'and counts nothing twice')
})
