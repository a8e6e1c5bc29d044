import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PACKAGE_ROOT } from '../../src/package-info.js'

export const RECOMMENDED_BACKEND = join(PACKAGE_ROOT, 'haproxy-snippets/httpchk-backend.cfg')

/**
 * The check lines of the recommended backend as shipped (`option httpchk`, every `http-check`,
 * `timeout check`, `default-server`), with the agent's port in place of 9990: a test that says it
 * runs HAProxy on the recommended settings takes them from the file, not from a copy.
 */
export function recommendedCheckLines(agentPort: number, options: { sendState?: boolean } = {}): string {
  return readFileSync(RECOMMENDED_BACKEND, 'utf8')
    .split('\n')
    .filter((l) => /^\s+(option httpchk|http-check|timeout check|default-server)\b/.test(l))
    .filter((l) => options.sendState !== false || !/http-check send-state/.test(l))
    .map((l) => l.replace(/check port 9990\b/, `check port ${agentPort}`))
    .join('\n')
}
