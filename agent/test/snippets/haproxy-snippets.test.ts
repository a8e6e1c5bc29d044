import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { requireBinary } from '../helpers/system.js'

const SNIPPETS = join(PACKAGE_ROOT, 'haproxy-snippets')

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
function haproxyCheck(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(requireBinary('haproxy'), ['-c', '-dW', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c.toString()))
    child.stderr.on('data', (c: Buffer) => (output += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

t.test('every snippet is a valid HAProxy 2.6 config fragment, without a warning', async (t) => {
  const dir = tempDir(t)
  const files = readdirSync(SNIPPETS).filter((f) => f.endsWith('.cfg')).sort()
  t.ok(files.includes('agent-check.cfg') && files.includes('agent-check-with-httpchk.cfg'), `agent-check snippets present (${files.join(', ')})`)
  await Promise.all(
    files.map(async (file) => {
      const snippet = readFileSync(join(SNIPPETS, file), 'utf8')
      const wrapped = join(dir, file)
      writeFileSync(wrapped, wrapSnippet(snippet))
      const result = await haproxyCheck(wrapped)
      t.equal(result.code, 0, `${file}: haproxy -c -dW accepts it\n${result.output}`)
    }),
  )
})

t.test('the check can fail: a broken snippet is refused', async (t) => {
  const dir = tempDir(t)
  const snippet = readFileSync(join(SNIPPETS, 'agent-check.cfg'), 'utf8').replace('agent-inter 2s', 'agent-inter 2s weight:50')
  writeFileSync(join(dir, 'broken.cfg'), wrapSnippet(snippet))
  const result = await haproxyCheck(join(dir, 'broken.cfg'))
  t.not(result.code, 0)
  t.match(result.output, /unknown keyword 'weight:50'/)
})

t.test('the httpchk backend snippet has what the drain needs', async (t) => {
  const text = readFileSync(join(SNIPPETS, 'httpchk-backend.cfg'), 'utf8')
  for (const line of ['option httpchk GET /health', 'http-check disable-on-404', 'http-check send-state', 'check port 9990']) {
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
