import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

/** How rolling-deploy reads its inventory: each line's words, as its --dry-run plan shows them. */

function plan(t: Test, inventoryText: string) {
  const dir = tempDir(t)
  const war = join(dir, 'app.war')
  writeFileSync(war, 'PK\u0003\u0004')
  const inventory = join(dir, 'hosts')
  writeFileSync(inventory, inventoryText)
  return spawnSync('bash', [join(PACKAGE_ROOT, 'scripts/rolling-deploy'), '--inventory', inventory, '--war', war, '--dry-run'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  })
}

t.test('a host line without keys gives deploy-war no argument at all (was one empty argument)', async (t) => {
  const result = plan(t, 'web1\nweb2 ssh=deploy@web2\n')
  t.equal(result.status, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  t.match(lines[1], /1\/2 web1, locally: deploy-war --war \S+app\.war$/, 'nothing after the WAR')
  t.match(
    lines[2],
    /2\/2 web2, over ssh to deploy@web2 \(package in \/usr\/lib\/tomcat-health-agent or \/opt\/tomcat-health-agent\): deploy-war --war \S+app\.war$/,
  )
  t.notMatch(result.stdout, /''/, 'no empty argument anywhere')
})

t.test('an unclosed quote is refused with the line number (was: the line silently dropped)', async (t) => {
  for (const line of ['web1 reason="oops', "web1 reason='oops", 'web1 reason="a \\" b']) {
    const result = plan(t, `web0\n${line}\n`)
    t.equal(result.status, 2, `${line}: bad usage`)
    t.match(result.stderr, /hosts:2: unbalanced quotes/, `${line}: says which line`)
    t.equal(result.stdout, '', `${line}: no plan printed`)
  }
})

t.test('# starts a comment only at the start of a word outside quotes', async (t) => {
  const result = plan(
    t,
    [
      '  # a whole-line comment',
      'web1 reason="release #42" # the comment',
      "web2 reason='tag #7'",
      'web3 reason=a#b#c',
      'web4 reason="say \\"hi\\" \\\\ok"#',
    ].join('\n'),
  )
  t.equal(result.status, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  t.equal(lines.length, 5, 'a plan line and four hosts')
  t.match(lines[1], / web1, locally: deploy-war --war \S+ --reason release\\ #42$/)
  t.match(lines[2], / web2, locally: deploy-war --war \S+ --reason tag\\ #7$/)
  t.match(lines[3], / web3, locally: deploy-war --war \S+ --reason a#b#c$/)
  t.match(lines[4], / web4, locally: deploy-war --war \S+ --reason say\\ \\"hi\\"\\ \\\\ok#$/)
})
