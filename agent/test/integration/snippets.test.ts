import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { PACKAGE_ROOT } from '../../src/package-info.js'
import { tempDir } from '../helpers/agent.js'
import { requireBinary } from '../helpers/system.js'

const SNIPPETS = join(PACKAGE_ROOT, 'haproxy-snippets')

/**
 * A snippet is a piece of haproxy.cfg: what it lacks to be a whole config (defaults with
 * timeouts, a frontend that uses its backend) is added around it, and `haproxy -c` must accept it.
 */
export function wrapSnippet(text: string): string {
  const parts: string[] = []
  if (!/^defaults/m.test(text)) parts.push('defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n')
  parts.push(text)
  const backend = /^backend\s+(\S+)/m.exec(text)?.[1]
  if (backend && !/^(frontend|listen)\s/m.test(text)) parts.push(`frontend snippet_test\n    bind 127.0.0.1:8080\n    default_backend ${backend}\n`)
  return parts.join('\n')
}

t.test('every HAProxy snippet passes haproxy -c', async (t) => {
  const haproxy = requireBinary('haproxy')
  const dir = tempDir(t)
  const files = readdirSync(SNIPPETS).filter((f) => f.endsWith('.cfg'))
  t.ok(files.length >= 2, `snippets found: ${files.join(', ')}`)
  for (const file of files) {
    const config = join(dir, file)
    writeFileSync(config, wrapSnippet(readFileSync(join(SNIPPETS, file), 'utf8')))
    const result = spawnSync(haproxy, ['-c', '-f', config], { encoding: 'utf8' })
    t.equal(result.status, 0, `${file}: ${result.stdout}${result.stderr}`)
  }
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
