// Builds dist/deb/tomcat-health-agent_VERSION_amd64.deb from the single executable with plain
// dpkg-deb: the layout, maintainer scripts and texts are in packaging/deb/, the units in
// scripts/systemd/. Man pages are made from the commands' own --help.
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { buildSea, runtimeLicense } from '../sea/build.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..')
const HERE = join(ROOT, 'packaging/deb')
const { name, version: npmVersion } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
/** The package's version: package.json's, unless --package-version says otherwise (a test's upgrade). */
let version = npmVersion
const MAINTAINER = 'tomcat-health-agent maintainers <tomcat-health-agent@example.org>'

const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', ...options })

function put(tree, path, content, mode = 0o644) {
  const file = join(tree, path)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, content)
  chmodSync(file, mode)
}

/** gzip -9n: no name or time inside, as Debian wants for man pages and docs. */
const gzip = (text) => execFileSync('gzip', ['-9nc'], { input: text })

const roffEscape = (text) => text.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1')

function manPage(command, summary, help) {
  const date = new Date().toISOString().slice(0, 10)
  return `.TH ${command.toUpperCase()} 1 "${date}" "${name} ${version}" "User Commands"\n.SH NAME\n${command} \\- ${summary}\n.SH DESCRIPTION\n.nf\n${roffEscape(help)}.fi\n.SH SEE ALSO\n/usr/share/doc/${name}/README.md.gz\n`
}

function changelog() {
  const date = new Date().toUTCString().replace('GMT', '+0000')
  return `${name} (${version}) unstable; urgency=medium\n\n  * Release ${version}: the single executable, packaged.\n\n -- ${MAINTAINER}  ${date}\n`
}

function duKiB(dir) {
  let bytes = 0
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile()) bytes += statSync(path).size
    }
  }
  walk(dir)
  return Math.ceil(bytes / 1024)
}

/**
 * `binary`: an executable already built by packaging/sea/build.mjs (--binary PATH); otherwise it is
 * built. `out`: the folder the package and its tree are made in (--out DIR), emptied first.
 * `packageVersion` (--package-version V): the Debian version, package.json's by default.
 */
export function buildDeb(binary = buildSea(), out = join(ROOT, 'dist/deb'), packageVersion = npmVersion) {
  const OUT = out
  version = packageVersion
  const tree = join(OUT, 'root')
  rmSync(OUT, { recursive: true, force: true })
  mkdirSync(tree, { recursive: true })
  const doc = `usr/share/doc/${name}`

  mkdirSync(join(tree, 'usr/bin'), { recursive: true })
  copyFileSync(binary, join(tree, 'usr/bin/tomcat-health-agent'))
  chmodSync(join(tree, 'usr/bin/tomcat-health-agent'), 0o755)
  // One executable, called by the name of the command it is.
  symlinkSync('tomcat-health-agent', join(tree, 'usr/bin/health-agent'))
  symlinkSync('tomcat-health-agent', join(tree, 'usr/bin/agentctl'))

  for (const script of ['pre-deploy', 'post-deploy', 'deploy-war', 'rolling-deploy']) {
    put(tree, `usr/lib/${name}/scripts/${script}`, readFileSync(join(ROOT, 'scripts', script)), 0o755)
  }
  for (const lib of ['common.sh', 'remote-deploy.sh'])
    put(tree, `usr/lib/${name}/scripts/lib/${lib}`, readFileSync(join(ROOT, 'scripts/lib', lib)))
  cpSync(join(ROOT, 'haproxy-snippets'), join(tree, `usr/share/${name}/haproxy-snippets`), { recursive: true })

  put(tree, 'lib/systemd/system/tomcat-health-agent.service', readFileSync(join(ROOT, 'scripts/systemd/tomcat-health-agent.service')))
  // Installed, not enabled: README.md says how to link it into /etc/systemd/system/tomcat10.service.d/.
  put(
    tree,
    `usr/share/${name}/systemd/tomcat10.service.d/health-agent.conf`,
    readFileSync(join(ROOT, 'scripts/systemd/tomcat10.service.d/health-agent.conf')),
  )
  put(tree, 'etc/default/tomcat-health-agent', readFileSync(join(HERE, 'default')))

  const help = (args) => run(binary, args)
  put(
    tree,
    'usr/share/man/man1/health-agent.1.gz',
    gzip(manPage('health-agent', "answers the load balancers' health check for one Tomcat", help(['health-agent', '--help']))),
  )
  put(
    tree,
    'usr/share/man/man1/agentctl.1.gz',
    gzip(manPage('agentctl', 'reads and sets the admin state of a tomcat-health-agent', help(['agentctl', '--help']))),
  )
  put(
    tree,
    'usr/share/man/man1/tomcat-health-agent.1.gz',
    gzip(manPage('tomcat-health-agent', 'health-agent and agentctl in one executable', help(['--help']))),
  )

  put(tree, `${doc}/copyright`, readFileSync(join(HERE, 'copyright')))
  put(tree, `${doc}/changelog.gz`, gzip(changelog()))
  put(tree, `${doc}/README.md.gz`, gzip(readFileSync(join(ROOT, 'README.md'))))
  put(tree, `${doc}/node-LICENSE.gz`, gzip(readFileSync(runtimeLicense())))
  put(tree, `usr/share/lintian/overrides/${name}`, readFileSync(join(HERE, 'lintian-overrides')))

  const md5sums = run('sh', ['-c', "find . -type f ! -path './etc/*' -printf '%P\\0' | sort -z | xargs -0 md5sum"], { cwd: tree })
  const control = readFileSync(join(HERE, 'control'), 'utf8')
    .replace('@VERSION@', version)
    .replace('@INSTALLED_SIZE@', String(duKiB(tree)))
  put(tree, 'DEBIAN/control', control)
  put(tree, 'DEBIAN/md5sums', md5sums)
  put(tree, 'DEBIAN/conffiles', '/etc/default/tomcat-health-agent\n')
  put(tree, 'DEBIAN/postinst', readFileSync(join(HERE, 'postinst')), 0o755)
  put(tree, 'DEBIAN/prerm', readFileSync(join(HERE, 'prerm')), 0o755)
  put(tree, 'DEBIAN/postrm', readFileSync(join(HERE, 'postrm')), 0o755)

  const deb = join(OUT, `${name}_${version}_amd64.deb`)
  run('dpkg-deb', ['--root-owner-group', '-Zxz', '-z1', '--build', tree, deb], { stdio: ['ignore', 'ignore', 'inherit'] })
  return deb
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  const option = (name) => {
    const at = process.argv.indexOf(name)
    return at > 0 ? process.argv[at + 1] : undefined
  }
  const deb = buildDeb(option('--binary') ?? buildSea(), option('--out'), option('--package-version'))
  process.stdout.write(`${deb} (${(Date.now() - started) / 1000} s)\n`)
}
