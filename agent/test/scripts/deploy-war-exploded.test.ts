import { watch, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { runDeployScript } from '../helpers/cli.js'
import { fakeLoadBalancers } from '../helpers/fake-lbs.js'
import { waitFor } from '../helpers/wait.js'
import { writeWar } from '../helpers/war.js'

/**
 * deploy-war --exploded and what Tomcat's autodeploy could see in webapps/: only the finished
 * folder, arriving by a rename, never a folder being unpacked; and a WAR that does not unpack
 * leaves nothing behind. A real agent and the built agentctl run the drain and ready steps,
 * confirmed by checks as two load balancers send them; Tomcat's start and stop are `true`.
 */

function makeBase(dir: string): { base: string; webapps: string } {
  const base = join(dir, 'tomcat')
  const webapps = join(base, 'webapps')
  mkdirSync(webapps, { recursive: true })
  return { base, webapps }
}

/** Every file below `dir`, as paths relative to it. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()
}

t.test('--exploded: webapps/ sees only the finished folder, moved in by a rename', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1,lb2' })
  fakeLoadBalancers(t, running, {})
  const dir = tempDir(t)
  const { base, webapps } = makeBase(dir)
  const source = join(dir, 'src')
  mkdirSync(join(source, 'WEB-INF/lib'), { recursive: true })
  for (let i = 0; i < 200; i++) writeFileSync(join(source, `page${i}.jsp`), `page ${i}\n`)
  writeFileSync(join(source, 'WEB-INF/web.xml'), '<web-app/>\n')
  const war = writeWar(source, join(dir, 'app.war'))

  const seen = new Set<string>()
  const watcher = watch(webapps, (_event, name) => {
    if (name) seen.add(name.toString())
  })
  t.teardown(() => watcher.close())
  const r = await runDeployScript('deploy-war', [
    '--war',
    war,
    '--exploded',
    '--catalina-base',
    base,
    '--start-cmd',
    'true',
    '--stop-cmd',
    'true',
    '--agent',
    running.adminUrl,
    '--token-file',
    join(running.dir, 'admin-token'),
  ])
  t.equal(r.code, 0, r.stderr)
  await waitFor('the rename of app into webapps/ to be seen', () => seen.has('app'))
  t.same([...seen], ['app'], 'no other name ever appeared in webapps/')
  t.equal(readFileSync(join(webapps, 'app/page199.jsp'), 'utf8'), 'page 199\n', 'the app is whole')
  t.same(readdirSync(webapps), ['app'])
  t.same(
    tree(base).filter((p) => /(^|\/)\.(deploy|staging)/.test(p)),
    [],
    'no staging folder left anywhere in the Tomcat instance',
  )
})

t.test('--exploded with a WAR that does not unpack: stops before the drain, leaves nothing behind', async (t) => {
  const dir = tempDir(t)
  const { base, webapps } = makeBase(dir)
  mkdirSync(join(webapps, 'other'))
  const war = join(dir, 'app.war')
  writeFileSync(war, 'PK\u0003\u0004 this is not a zip archive')
  const before = tree(base)
  // No agent: the staging comes before the drain, so none is asked for.
  const r = await runDeployScript('deploy-war', ['--war', war, '--exploded', '--catalina-base', base, '--agent', 'http://127.0.0.1:9/'])
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, /could not stage the WAR; nothing changed/)
  t.notMatch(r.stderr, /step: pre-deploy/)
  const after = tree(base).filter((p) => !p.startsWith('deploy-history'))
  t.same(after, before, 'the Tomcat instance is as it was')
  t.ok(
    !existsSync(join(base, 'deploy-history')) || tree(join(base, 'deploy-history')).every((p) => !p.includes('.')),
    'no staging leftovers',
  )
})
