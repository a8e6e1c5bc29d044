import { readFileSync } from 'node:fs'
import { AgentError } from '../errors.js'

/**
 * Reads an environment file as systemd's EnvironmentFile= does for the lines an operator writes:
 * NAME=VALUE, blank lines, # or ; comments, a value optionally in matching quotes. A missing file
 * is no error (the unit says `EnvironmentFile=-`); anything else unreadable or malformed is.
 */
export function readEnvFile(path: string): Record<string, string> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new AgentError('AGENT_ERR_CONFIG_FILE', `cannot read environment file ${path}: ${(err as Error).message}`, { cause: err })
  }
  const values: Record<string, string> = {}
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!match)
      throw new AgentError(
        'AGENT_ERR_CONFIG_FILE',
        `environment file ${path} line ${index + 1}: expected NAME=VALUE, got ${JSON.stringify(line)}`,
      )
    const [, name, value] = match as unknown as [string, string, string]
    const quoted = /^(["'])(.*)\1$/.exec(value)
    values[name] = quoted ? (quoted[2] as string) : value
  })
  return values
}
