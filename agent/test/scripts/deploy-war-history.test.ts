import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startAgent, tempDir } from '../helpers/agent.js'
import { runDeployScript } from '../helpers/cli.js'
import { fakeLoadBalancers } from '../helpers/fake-lbs.js'

/**
 * What deploy-war keeps and removes on disk: the live WAR, the history it rolls back to, what
 * Tomcat derived from the old version, its own staging copy. A real agent and the built agentctl
 * run the drain and ready steps, confirmed by checks as two load balancers send them; Tomcat's
 * start and stop are `true`, since the test is about the files.
 */

const ZIP_MAGIC = 'PK\u0003\u0004'

t.test('deploy-war keeps --keep versions oldest out, removes what Tomcat derived, and rolls back to the newest kept', async (t) => {
  const running = await startAgent(t, { expectLb: 'lb1,lb2' })
  fakeLoadBalancers(t, running, {})
  const dir = tempDir(t)
  const base = join(dir, 'tomcat')
  const webapps = join(base, 'webapps')
  const history = join(base, 'deploy-history', 'app')
  mkdirSync(webapps, { recursive: true })
  // A version kept by a deploy-war that named its history with date +%N (nanoseconds): it must sort
  // with the names made now (microseconds from bash, padded to nine digits).
  mkdirSync(history, { recursive: true })
  writeFileSync(join(history, '20200101T000000.123456789'), `${ZIP_MAGIC}old`)
  const live = join(webapps, 'app.war')
  const war = (version: string) => {
    const file = join(dir, `${version}.war`)
    writeFileSync(file, `${ZIP_MAGIC}${version}`)
    return file
  }
  const deploy = (args: string[]) =>
    runDeployScript('deploy-war', [
      '--catalina-base',
      base,
      '--context',
      'app',
      '--keep',
      '2',
      '--start-cmd',
      'true',
      '--stop-cmd',
      'true',
      '--agent',
      running.adminUrl,
      '--token-file',
      join(running.dir, 'admin-token'),
      ...args,
    ])
  const kept = () => readdirSync(history).sort()
  const keptBodies = () => kept().map((name) => readFileSync(join(history, name), 'utf8').slice(ZIP_MAGIC.length))

  for (const version of ['v1', 'v2', 'v3', 'v4']) {
    // What Tomcat made of the live version: its unpacked folder and compiled JSPs.
    mkdirSync(join(webapps, 'app'), { recursive: true })
    mkdirSync(join(base, 'work', 'Catalina', 'localhost', 'app'), { recursive: true })
    const r = await deploy(['--war', war(version)])
    t.equal(r.code, 0, `${version} deployed\n${r.stderr}`)
    t.equal(readFileSync(live, 'utf8'), `${ZIP_MAGIC}${version}`, `${version} is live`)
    t.notOk(existsSync(join(webapps, 'app')), `${version}: the old version's unpacked folder is gone`)
    t.notOk(existsSync(join(base, 'work', 'Catalina', 'localhost', 'app')), `${version}: its compiled JSPs are gone`)
    t.same(
      readdirSync(webapps).filter((name) => name.startsWith('.deploy-')),
      [],
      `${version}: no staging copy left`,
    )
    t.ok(kept().length <= 2, `${version}: at most --keep 2 versions kept (${kept().join(', ')})`)
  }
  t.same(keptBodies(), ['v2', 'v3'], 'the two newest previous versions are kept, the old-style name pruned first')
  for (const name of kept()) t.match(name, /^\d{8}T\d{6}\.\d{9}$/, `${name}: the history's name format`)

  const back = await deploy(['--rollback'])
  t.equal(back.code, 0, `rollback\n${back.stderr}`)
  t.equal(readFileSync(live, 'utf8'), `${ZIP_MAGIC}v3`, 'the newest kept version is live again')
  t.same(keptBodies(), ['v2'], 'and no longer in the history')
  t.match(back.stderr, /restored the version kept as .*deploy-history\/app\/\d{8}T\d{6}\.\d{9}\n/)
})
