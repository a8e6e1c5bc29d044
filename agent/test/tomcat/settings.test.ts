import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config/load.js'
import { contextOf, statusMatcher, tomcatSettings } from '../../src/tomcat/settings.js'
import { tempDir } from '../helpers/agent.js'

const load = (flags: Record<string, string>, env: Record<string, string> = {}) =>
  loadConfig({ env, cwd: '/tmp', flags: { dataDir: '/tmp/x', ...flags } })

t.test('no --tomcat-url: no probe, no warm-up, no manager', async (t) => {
  t.same(tomcatSettings(load({})), { probe: null, startupPolicy: 'down', warmup: null, manager: null })
})

t.test('flags and environment give the probe and a warm-up list', async (t) => {
  const config = load(
    { warmupUrls: '/app/, /app/index.jsp,http://127.0.0.1:9/other', tomcatExpectStatus: '200,3xx' },
    { HEALTH_AGENT_TOMCAT_URL: 'http://127.0.0.1:8080/app/health', HEALTH_AGENT_TOMCAT_FALL: '2', HEALTH_AGENT_WARMUP_REQUESTS: '5' },
  )
  const settings = tomcatSettings(config)
  t.match(settings.probe, {
    url: 'http://127.0.0.1:8080/app/health',
    intervalMs: 1000,
    timeoutMs: 2000,
    fall: 2,
    rise: 2,
    expectBody: null,
  })
  t.same(settings.warmup?.urls, ['http://127.0.0.1:8080/app/', 'http://127.0.0.1:8080/app/index.jsp', 'http://127.0.0.1:9/other'])
  t.equal(settings.warmup?.requests, 5)
  t.equal(settings.warmup?.onFailure, 'down')
  const matcher = settings.probe?.expectStatus
  t.same(
    [200, 204, 302, 404, 500].map((s) => matcher?.(s)),
    [true, false, true, false, false],
  )
})

t.test('default accepted statuses are 2xx and 3xx, as HAProxy checks', async (t) => {
  const m = statusMatcher(load({}).tomcatExpectStatus)
  t.equal(m.text, '2xx,3xx')
  t.same(
    [199, 200, 299, 301, 399, 400, 503].map((s) => m(s)),
    [false, true, true, true, true, false, false],
  )
})

t.test('invalid values name the setting, the expectation and what arrived', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [
      { tomcatUrl: 'localhost:8080' },
      /invalid tomcatUrl \(--tomcat-url\): expected an http:\/\/ or https:\/\/ URL .* got "localhost:8080"/,
    ],
    [{ tomcatUrl: 'http://admin:secret@127.0.0.1:8080/' }, /invalid tomcatUrl .*without user:password/],
    [{ tomcatFall: '0' }, /invalid tomcatFall \(--tomcat-fall\): expected an integer from 1 to 100, got 0/],
    [
      { tomcatExpectStatus: '200,ok' },
      /invalid tomcatExpectStatus \(--tomcat-expect-status\): expected a comma-separated list .* got "ok"/,
    ],
    [{ tomcatExpectStatus: ',' }, /invalid tomcatExpectStatus/],
    [{ tomcatExpectBody: '(' }, /invalid tomcatExpectBody .*regular expression/],
    [{ warmupUrls: '/app/,app/x' }, /invalid warmupUrls \(--warmup-urls\): .* got "app\/x"/],
    [{ warmupOnFailure: 'maybe' }, /invalid warmupOnFailure .*one of down, ready/],
    [{ tomcatStartupPolicy: 'up' }, /invalid tomcatStartupPolicy .*one of down, admin/],
  ]
  for (const [flags, message] of cases) {
    t.throws(() => load(flags), { code: 'AGENT_ERR_CONFIG', message }, JSON.stringify(flags))
  }
})

t.test('settings that need each other are checked together', async (t) => {
  t.throws(() => tomcatSettings(load({ warmupUrls: '/app/' })), { code: 'AGENT_ERR_CONFIG', message: /warmupUrls: .*needs tomcatUrl/ })
  t.throws(
    () => tomcatSettings(load({ tomcatUrl: 'http://127.0.0.1:8080/app/health', tomcatManagerUrl: 'http://127.0.0.1:8080/manager' })),
    {
      message: /tomcatManagerCredentialsFile/,
    },
  )
  t.throws(() => tomcatSettings(load({ tomcatManagerUrl: 'http://127.0.0.1:8080/manager', tomcatManagerCredentialsFile: 'creds' })), {
    message: /tomcatManagerContexts/,
  })
})

t.test('the manager counts sessions in the probe URL context unless told otherwise', async (t) => {
  const base = {
    tomcatUrl: 'http://127.0.0.1:8080/shop/health.jsp',
    tomcatManagerUrl: 'http://127.0.0.1:8080/manager/',
    tomcatManagerCredentialsFile: 'creds',
  }
  t.match(tomcatSettings(load(base)).manager, { url: 'http://127.0.0.1:8080/manager', contexts: ['/shop'], credentialsFile: '/tmp/creds' })
  t.same(tomcatSettings(load({ ...base, tomcatManagerContexts: '/a,/b' })).manager?.contexts, ['/a', '/b'])
  t.equal(contextOf('http://127.0.0.1:8080/health'), '/health')
  t.equal(contextOf('http://127.0.0.1:8080/'), '/')
})

t.test('a config file gives lists as YAML lists or comma strings', async (t) => {
  const dir = tempDir(t)
  writeFileSync(
    join(dir, 'config.yaml'),
    'tomcat-url: http://127.0.0.1:8080/app/health\nwarmup-urls: [/app/, /app/index.jsp]\ntomcat-expect-status: "200,204"\n',
  )
  const config = loadConfig({ env: {}, cwd: dir, configFile: 'config.yaml' })
  t.same(config.warmupUrls, ['/app/', '/app/index.jsp'])
  t.same(config.tomcatExpectStatus, ['200', '204'])
})
