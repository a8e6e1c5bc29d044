import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'

const run = (script: string, args: string[]) =>
  spawnSync('bash', [join(PACKAGE_ROOT, 'scripts', script), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })

t.test('every deploy script has --help and refuses bad usage with exit 2 and one clear line', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'not-a.war'), 'hello')
  const cases: Array<[string, string[], RegExp]> = [
    ['pre-deploy', ['--drain-timeout', 'soon'], /expected a number of seconds, got 'soon'/],
    ['pre-deploy', ['--bogus'], /unknown option '--bogus'/],
    ['post-deploy', ['--bogus'], /unknown option '--bogus'/],
    ['deploy-war', [], /--war FILE is required/],
    ['deploy-war', ['--war', join(dir, 'missing.war')], /cannot read the WAR/],
    ['deploy-war', ['--war', join(dir, 'not-a.war')], /is not a WAR \(not a zip file\)/],
    ['deploy-war', ['--canary-for', 'a while'], /--canary-for: expected a duration such as 120, 90s or 10m, got 'a while'/],
    ['deploy-war', ['--canary-arg', '--min-requests=5'], /--canary-arg goes with --canary-for/],
    ...['.', '..', 'a/b', '#a', 'a#', 'a##', '##v', 'a##b##c', 'a#..#b', 'a#.#b', '.hidden', 'a b', 'a\tb', 'a\u0001b', 'a\nb'].map(
      (name): [string, string[], RegExp] => [
        'deploy-war',
        // A Tomcat of the test's own: never the machine's /var/lib/tomcat10.
        ['--rollback', '--catalina-base', dir, '--context', name],
        /--context: [^\n]+ is not a context name Tomcat would deploy as given: use letters, digits, \. _ -, # for a \/ inside the path, ##VERSION at the end; not \. or \.\. as a part, nor a leading \./,
      ],
    ),
    // Names Tomcat deploys get past the name check (to the next one: this Tomcat has no webapps).
    ...['ROOT', 'app', 'shop#api', 'app##002', 'ROOT##2026.12-1', 'a.b_c-d', 'a#b.c#d'].map((name): [string, string[], RegExp] => [
      'deploy-war',
      ['--rollback', '--catalina-base', dir, '--context', name],
      /no webapps folder/,
    ]),
    ['rolling-deploy', [], /--inventory FILE is required/],
    ['rolling-deploy', ['--inventory', join(dir, 'none')], /cannot read the inventory/],
  ]
  for (const script of ['pre-deploy', 'post-deploy', 'deploy-war', 'rolling-deploy', 'install-system-deps.sh']) {
    const help = run(script, ['--help'])
    t.equal(help.status, 0, `${script} --help`)
    t.match(help.stdout, /^Usage: /, `${script} --help prints usage`)
  }
  for (const [script, args, message] of cases) {
    const result = run(script, args)
    t.equal(result.status, 2, `${script} ${args.join(' ')}`)
    t.match(result.stderr, message, `${script} ${args.join(' ')} says why`)
  }
})

t.test('rolling-deploy --dry-run prints the plan from the inventory and touches nothing', async (t) => {
  const dir = tempDir(t)
  const war = join(dir, 'app.war')
  writeFileSync(war, 'PK\u0003\u0004')
  const inventory = join(dir, 'hosts')
  writeFileSync(
    inventory,
    [
      '# three Tomcats',
      'web1 catalina-base=/srv/t1 agent=http://127.0.0.1:9991 start-cmd="/srv/t1/start now"',
      'web2 ssh=deploy@web2 catalina-base=/var/lib/tomcat10   # a comment',
      '',
      'web3 ssh=deploy@web3 agent-dir=/opt/agent exploded=yes',
    ].join('\n'),
  )
  const result = run('rolling-deploy', ['--inventory', inventory, '--war', war, '--dry-run', '--', '--drain-timeout', '300'])
  t.equal(result.status, 0, result.stderr)
  const lines = result.stdout.trim().split('\n')
  t.match(lines[0], /^plan: deploy app\.war to 3 host\(s\), one at a time/)
  t.match(
    lines[1],
    /1\/3 web1, locally: deploy-war --war \S+app\.war --catalina-base \/srv\/t1 --agent http:\/\/127\.0\.0\.1:9991 --start-cmd \/srv\/t1\/start\\ now --drain-timeout 300$/,
  )
  t.match(
    lines[2],
    /2\/3 web2, over ssh to deploy@web2 \(package in \/usr\/lib\/tomcat-health-agent or \/opt\/tomcat-health-agent\): deploy-war --war \S+ --catalina-base \/var\/lib\/tomcat10 --drain-timeout 300$/,
  )
  t.match(lines[3], /3\/3 web3, over ssh to deploy@web3 \(package in \/opt\/agent\): deploy-war --war \S+ --exploded --drain-timeout 300$/)

  writeFileSync(inventory, 'web1 colour=blue\n')
  const bad = run('rolling-deploy', ['--inventory', inventory, '--war', war, '--dry-run'])
  t.equal(bad.status, 2)
  t.match(bad.stderr, /hosts:1: unknown key 'colour'/)
})
