import { join } from 'node:path'
import t from 'tap'
import { tempDir } from '../helpers/agent.js'
import { Tomcat, writeWebapp } from '../helpers/tomcat.js'
import { waitFor } from '../helpers/wait.js'
import { figures, startPackedAgent } from './harness.js'

/** Warm-up requests in Tomcat's access log from line `from` on. */
const warmups = (tomcat: Tomcat, from: number) =>
  tomcat
    .accessLogLines()
    .slice(from)
    .filter((l) => l.endsWith('(warm-up)"') && / 200 /.test(l))

t.test('Tomcat killed during the warm-up: never 200 while it is dead, and 200 only after the new instance is warmed up', async (t) => {
  const tomcat = await Tomcat.create(t, { name: 'warm' })
  tomcat.deployDir(
    '/app',
    writeWebapp(join(tempDir(t, 'hardening-'), 'app'), {
      'health.txt': 'UP\n',
      // Slow enough that the kill lands while a warm-up request is in flight.
      'slow.jsp': '<%@ page contentType="text/plain" %><% Thread.sleep(400); %>warm\n',
    }),
  )
  await tomcat.start()
  await tomcat.waitUntilServing('/app/health.txt')
  // The probe on its defaults; a failure limit the dead Tomcat's refusals stay under.
  const agent = await startPackedAgent(t, tempDir(t, 'hardening-'), [
    '--tomcat-url',
    tomcat.url('/app/health.txt'),
    '--warmup-urls',
    '/app/slow.jsp',
    '--warmup-requests',
    '3',
    '--warmup-concurrency',
    '1',
    '--warmup-max-failures',
    '5',
  ])
  await waitFor('two warm-up requests served', async () => ((await agent.status()).tomcat.warmup?.done ?? 0) >= 2, {
    timeoutMs: 60_000,
    intervalMs: 20,
  })
  await tomcat.kill('SIGKILL')
  const whileDead: number[] = []
  for (let i = 0; i < 40; i++) whileDead.push((await agent.check()).status)
  const logFrom = tomcat.accessLogLines().length
  await tomcat.start()
  const answers: number[] = []
  await waitFor(
    '200 after the restart',
    async () => {
      const status = (await agent.check()).status
      answers.push(status)
      return status === 200
    },
    { timeoutMs: 90_000, intervalMs: 50 },
  )
  const servedByNew = warmups(tomcat, logFrom).length
  const warmup = (await agent.status()).tomcat.warmup
  figures(t, 'warm-up with a Tomcat killed during it', {
    answersWhileDead: [...new Set(whileDead)],
    okWhileDead: whileDead.filter((s) => s === 200).length,
    warmupRequestsServedByNewInstance: servedByNew,
    warmup: { phase: warmup?.phase, done: warmup?.done, failed: warmup?.failed },
  })
  t.equal(whileDead.filter((s) => s === 200).length, 0, 'no 200 while Tomcat was dead')
  t.ok(servedByNew >= 3, `the new instance served ${servedByNew} warm-up requests before the first 200`)
})
