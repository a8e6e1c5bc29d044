import type { ClientConfig } from '../config/load.js'
import { readTokenFile } from '../config/token-file.js'
import { isAgentError } from '../errors.js'
import { parseAgentUrl, type AgentEndpoint } from './admin-client.js'
import { UsageError } from './exit-codes.js'

/**
 * Which agent an agentctl command talks to, and its admin token, read as the agent reads it:
 * agentctl runs as root from the tomcat10 drop-in, so a FIFO, /dev/zero or a symlink as the
 * token file must give one line, not hang or follow it.
 */
export function agentTarget(config: ClientConfig): { endpoint: AgentEndpoint; token: string } {
  const url = config.url || config.adminListen
  const endpoint = parseAgentUrl(url)
  if (!endpoint) throw new UsageError(`--agent: expected http://HOST:PORT or unix:/PATH, got ${JSON.stringify(url)}`)
  try {
    return { endpoint, token: readTokenFile(config.tokenFile) }
  } catch (err) {
    if (isAgentError(err)) throw new UsageError(`${err.message} (see --token-file)`)
    throw new UsageError(
      `cannot read the admin token from ${config.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (the agent creates it at first start; see --token-file)`,
    )
  }
}
