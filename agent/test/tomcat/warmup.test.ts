import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { statusMatcher, type WarmupSettings } from '../../src/tomcat/settings.js'
import { runWarmup, WARMUP_USER_AGENT } from '../../src/tomcat/warmup.js'
import { closedPort, startHttpServer } from '../helpers/http-server.js'
import { waitFor } from '../helpers/wait.js'

function settings(urls: string[], extra: Partial<WarmupSettings> = {}): WarmupSettings {
  return {
    urls,
    requests: 1,
    durationMs: 0,
    concurrency: 2,
    timeoutMs: 2000,
    maxFailures: 0,
    onFailure: 'down',
    expectStatus: statusMatcher(['2xx', '3xx']),
    ...extra,
  }
}

t.test('every URL gets its requests, round-robin, never more than the concurrency in flight', async (t) => {
  const server = await startHttpServer(t, async (_, res) => {
    await delay(20)
    res.end('ok')
  })
  const urls = [server.url('/app/'), server.url('/app/index.jsp'), server.url('/app/big.jsp')]
  const seen: number[] = []
  const { outcome, progress } = await runWarmup(settings(urls, { requests: 4, concurrency: 3 }), {
    signal: new AbortController().signal,
    onRequest: (p) => seen.push(p.done),
  })
  t.equal(outcome, 'passed')
  t.match(progress, { done: 12, failed: 0, total: 12, lastError: null })
  t.same(
    progress.perUrl.map((u) => [u.requests, u.failures]),
    [
      [4, 0],
      [4, 0],
      [4, 0],
    ],
  )
  t.same(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'progress after every request')
  t.same(
    server.requests
      .slice(0, 3)
      .map((r) => r.url)
      .sort(),
    ['/app/', '/app/big.jsp', '/app/index.jsp'],
    'each URL is hit once before any is hit twice',
  )
  t.ok(server.maxInFlight <= 3, `at most 3 in flight (saw ${server.maxInFlight})`)
  t.ok(
    server.requests.every((r) => r.headers['user-agent'] === WARMUP_USER_AGENT),
    'warm-up requests say what they are (and show in the access log)',
  )
})

t.test('the slowest answer per URL is kept (the first one pays for compiling)', async (t) => {
  let first = true
  const server = await startHttpServer(t, async (_, res) => {
    if (first) {
      first = false
      await delay(150)
    }
    res.end()
  })
  const { progress } = await runWarmup(settings([server.url('/a.jsp')], { requests: 3, concurrency: 1 }), {
    signal: new AbortController().signal,
  })
  t.ok((progress.perUrl[0]?.slowestMs ?? 0) >= 140, `slowest ${progress.perUrl[0]?.slowestMs} ms`)
})

t.test('too many failures: stop early when that means staying down', async (t) => {
  const server = await startHttpServer(t, (req, res) => {
    res.statusCode = req.url === '/broken' ? 500 : 200
    res.end()
  })
  const urls = [server.url('/ok'), server.url('/broken')]
  const { outcome, progress } = await runWarmup(settings(urls, { requests: 50, concurrency: 1, maxFailures: 2 }), {
    signal: new AbortController().signal,
  })
  t.equal(outcome, 'failed')
  t.equal(progress.failed, 3, 'stops once the limit is passed')
  t.ok(progress.done < 100)
  t.match(progress.lastError, /^GET http:\/\/127\.0\.0\.1:\d+\/broken: HTTP 500 \(expected 2xx,3xx\)$/)
})

t.test('with on-failure ready, the warm-up goes on to the end and still reports the failures', async (t) => {
  const server = await startHttpServer(t, (req, res) => {
    res.statusCode = req.url === '/broken' ? 500 : 200
    res.end()
  })
  const { outcome, progress } = await runWarmup(settings([server.url('/ok'), server.url('/broken')], { requests: 3, onFailure: 'ready' }), {
    signal: new AbortController().signal,
  })
  t.equal(outcome, 'failed')
  t.match(progress, { done: 6, failed: 3, lastError: `GET ${server.url('/broken')}: HTTP 500 (expected 2xx,3xx)` })
})

t.test('a refused connection ends the warm-up whatever the failure limit: Tomcat is not there', async (t) => {
  const dead = `http://127.0.0.1:${await closedPort()}/app/`
  for (const onFailure of ['down', 'ready'] as const) {
    const { outcome, progress } = await runWarmup(settings([dead], { requests: 10, concurrency: 1, maxFailures: 5, onFailure }), {
      signal: new AbortController().signal,
    })
    t.equal(outcome, 'unreachable', `on-failure ${onFailure}`)
    t.match(progress, { done: 1, failed: 1, lastError: `GET ${dead}: connection refused` }, 'stops at the first one')
  }
})

t.test('a connection reset or cut mid-answer ends it too; other requests in flight are dropped', async (t) => {
  let n = 0
  const server = await startHttpServer(t, (req, res) => {
    n++
    if (req.url === '/reset') req.socket.destroy()
    else if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' })
      res.write('partial')
      setImmediate(() => req.socket.destroy())
    } else if (req.url === '/slow') {
      // answers only after the others have failed
    } else res.end()
  })
  for (const path of ['/reset', '/cut']) {
    const { outcome, progress } = await runWarmup(
      settings([server.url('/slow'), server.url(path)], { requests: 3, concurrency: 2, maxFailures: 5, timeoutMs: 30_000 }),
      {
        signal: new AbortController().signal,
      },
    )
    t.equal(outcome, 'unreachable', path)
    t.match(
      progress.lastError,
      path === '/reset' ? /connection (closed without an answer|reset)/ : /answer cut short|connection reset/,
      path,
    )
  }
  t.ok(n >= 4, 'the requests reached the server')
})

t.test('a server killed during the warm-up and back at once fails it: nothing before counts', async (t) => {
  const { createServer } = await import('node:http')
  const port = await closedPort()
  const listen = (s: ReturnType<typeof createServer>) => new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve))
  let served = 0
  const handler = (_: unknown, res: import('node:http').ServerResponse) => {
    served++
    res.end()
  }
  const first = createServer(handler)
  await listen(first)
  let restarted = false
  const { outcome, progress } = await runWarmup(
    settings([`http://127.0.0.1:${port}/app/`], { requests: 40, concurrency: 1, maxFailures: 5 }),
    {
      signal: new AbortController().signal,
      onRequest: (p) => {
        if (p.done !== 3 || restarted) return
        restarted = true
        // A restart: the old instance closes its connections, a new one listens again right away.
        first.closeAllConnections()
        first.close()
        const second = createServer(handler)
        t.teardown(() => second.close())
        void listen(second)
      },
    },
  )
  t.equal(outcome, 'unreachable')
  t.ok(progress.done < 40, `stopped after ${progress.done} requests (${served} served)`)
})

t.test('failures up to the limit still pass', async (t) => {
  let n = 0
  const server = await startHttpServer(t, (_, res) => {
    res.statusCode = n++ === 0 ? 503 : 200
    res.end()
  })
  const { outcome, progress } = await runWarmup(settings([server.url('/')], { requests: 5, concurrency: 1, maxFailures: 1 }), {
    signal: new AbortController().signal,
  })
  t.equal(outcome, 'passed')
  t.match(progress, { done: 5, failed: 1 })
})

t.test('a duration keeps the URLs coming until it has passed', async (t) => {
  const server = await startHttpServer(t, async (_, res) => {
    await delay(5)
    res.end()
  })
  const started = Date.now()
  const { outcome, progress } = await runWarmup(settings([server.url('/a'), server.url('/b')], { durationMs: 300, concurrency: 2 }), {
    signal: new AbortController().signal,
  })
  t.equal(outcome, 'passed')
  t.ok(Date.now() - started >= 300, 'ran for the duration')
  t.equal(progress.total, null, 'no fixed total')
  t.ok(progress.done > 2, `more than one round (${progress.done} requests)`)
})

t.test('an abort (Tomcat went down again) ends the warm-up at once', async (t) => {
  const server = await startHttpServer(t, () => undefined) // never answers
  const abort = new AbortController()
  const running = runWarmup(settings([server.url('/slow')], { timeoutMs: 60_000 }), { signal: abort.signal })
  await waitFor('the request to arrive', () => server.requests.length > 0)
  abort.abort()
  const { outcome, progress } = await running
  t.equal(outcome, 'aborted')
  t.equal(progress.failed, 0, 'an abort is not counted as a failure')
})
