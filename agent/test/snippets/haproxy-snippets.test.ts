import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { startHaproxy } from '../helpers/haproxy.js'
import { closedPort } from '../helpers/http-server.js'
import { requireBinary } from '../helpers/system.js'

const SNIPPETS = join(PACKAGE_ROOT, 'haproxy-snippets')
const STATE_FILE = '/var/lib/haproxy/server-state'

/** A file as `show servers state` writes it with no server: what a first reload finds. */
function writeEmptyServerState(file: string): string {
  writeFileSync(
    file,
    '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n',
  )
  return file
}

/**
 * A snippet is a fragment (backends, perhaps global settings): wrap it into the smallest config
 * HAProxy would start with, a frontend with a placeholder address for each backend.
 */
function wrapSnippet(snippet: string): string {
  const backends = [...snippet.matchAll(/^backend\s+(\S+)/gm)].map((m) => m[1] as string)
  const frontends = backends.map((name, i) => `frontend fe_${i}\n    bind 127.0.0.1:${18000 + i}\n    default_backend ${name}\n`)
  if (frontends.length === 0) frontends.push('frontend fe\n    bind 127.0.0.1:18000\n    http-request return status 200\n')
  return [
    'global\n    maxconn 100\n',
    'defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n',
    ...frontends,
    snippet,
  ].join('\n')
}

/** `haproxy -c` in zero-warning mode (-dW): a warning fails as an error does. */
function haproxyCheck(file: string, zeroWarning = true): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireBinary('haproxy'), ['-c', ...(zeroWarning ? ['-dW'] : []), '-f', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

t.test('every snippet is a valid HAProxy 2.6 config fragment, without a warning', async (t) => {
  const dir = tempDir(t)
  const files = readdirSync(SNIPPETS)
    .filter((f) => f.endsWith('.cfg'))
    .sort()
  t.ok(
    files.includes('agent-check.cfg') && files.includes('agent-check-with-httpchk.cfg'),
    `agent-check snippets present (${files.join(', ')})`,
  )
  await Promise.all(
    files.map(async (file) => {
      const snippet = readFileSync(join(SNIPPETS, file), 'utf8').replaceAll(STATE_FILE, writeEmptyServerState(join(dir, `${file}.state`)))
      const wrapped = join(dir, file)
      writeFileSync(wrapped, wrapSnippet(snippet))
      const result = await haproxyCheck(wrapped)
      t.equal(result.code, 0, `${file}: haproxy -c -dW accepts it\n${result.output}`)
    }),
  )
})

t.test('the check can fail: a broken snippet is refused', async (t) => {
  const dir = tempDir(t)
  const snippet = readFileSync(join(SNIPPETS, 'agent-check.cfg'), 'utf8')
    .replace('agent-inter 2s', 'agent-inter 2s weight:50')
    .replaceAll(STATE_FILE, writeEmptyServerState(join(dir, 'state')))
  writeFileSync(join(dir, 'broken.cfg'), wrapSnippet(snippet))
  const result = await haproxyCheck(join(dir, 'broken.cfg'))
  t.not(result.code, 0)
  t.match(result.output, /unknown keyword 'weight:50'/)
})

t.test('the httpchk backend snippet has what the drain needs', async (t) => {
  const text = readFileSync(join(SNIPPETS, 'httpchk-backend.cfg'), 'utf8')
  for (const line of [
    'option httpchk GET /health',
    'http-check disable-on-404',
    'http-check send-state',
    'check port 9990',
    'timeout check 2s',
    'http-check send hdr X-Health-Hold 1000',
  ]) {
    t.match(text, line)
  }
})

t.test('the ldirectord example checks the agent and expects "ready"', async (t) => {
  // ldirectord is not packaged with the tests; its file is checked for the settings that matter.
  const text = readFileSync(join(SNIPPETS, 'ldirectord.cf'), 'utf8')
  t.match(text, /^\s+checkport=9990$/m)
  t.match(text, /^\s+request="health"$/m)
  t.match(text, /^\s+receive="ready"$/m)
  t.match(text, /^quiescent=yes$/m)
})

t.test('every backend snippet keeps server states across reloads: the state saved by `show servers state` is loaded', async (t) => {
  const dir = tempDir(t)
  const files = readdirSync(SNIPPETS).filter((f) => f.endsWith('.cfg') && /^backend /m.test(readFileSync(join(SNIPPETS, f), 'utf8')))
  t.ok(files.length >= 3, files.join(', '))
  for (const file of files) {
    const text = readFileSync(join(SNIPPETS, file), 'utf8')
    t.match(text, new RegExp(`^global\\n    server-state-file ${STATE_FILE}$`, 'm'), `${file}: a global server-state-file`)
    t.match(text, /^ {4}load-server-state-from-file global$/m, `${file}: the backend loads it`)
  }

  // A real HAProxy on the recommended backend (servers on closed loopback ports) saves its state
  // as the snippet says; that file is what the next start loads, without a warning.
  const port = await closedPort()
  const saved = join(dir, 'server-state')
  const snippet = readFileSync(join(SNIPPETS, 'httpchk-backend.cfg'), 'utf8')
    .replaceAll(STATE_FILE, writeEmptyServerState(saved))
    .replace(/check port 9990/, `check port ${port}`)
    .replace(/10\.0\.0\.1\d:8080/g, `127.0.0.1:${port}`)
  const haproxy = await startHaproxy(t, dir, wrapSnippet(snippet).replace(/^global\n {4}maxconn 100\n/, ''), 'snippet')
  await haproxy.command('set server tomcats/web2 state drain')
  writeFileSync(saved, await haproxy.command('show servers state'))
  await haproxy.stop()
  t.match(readFileSync(saved, 'utf8'), /^1\n# be_id /, 'show servers state writes a version-1 state file')
  t.match(readFileSync(saved, 'utf8'), /tomcats \d+ web2 127\.0\.0\.1 \d+ 8 /, 'with the drain (admin state 8) in it')
  const wrapped = join(dir, 'reload.cfg')
  writeFileSync(wrapped, wrapSnippet(snippet))
  // Applying a saved state is reported as warnings ("remains in forced drain mode"): that is the proof.
  const reload = await haproxyCheck(wrapped, false)
  t.equal(reload.code, 0, `the next start accepts it\n${reload.output}`)
  t.match(reload.output, /Server tomcats\/web2 remains in forced drain mode/, 'and starts the drained server drained, not UP')

  // The check can fail: without the file, HAProxy warns (zero-warning mode refuses it).
  writeFileSync(wrapped, wrapSnippet(snippet.replaceAll(saved, join(dir, 'missing'))))
  const missing = await haproxyCheck(wrapped)
  t.not(missing.code, 0)
  t.match(missing.output, /Can't open global server state file/)
})
