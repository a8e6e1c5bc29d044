import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { AgentError } from '../errors.js'

/**
 * Reads the admin token, creating a random one when the file does not exist: mode 0640, so that
 * the members of the agent's group (deploy users) can use agentctl, and nobody else.
 */
export function loadOrCreateToken(path: string, logger: Logger): string {
  try {
    const token = readFileSync(path, 'utf8').trim()
    if (token.length < 16) {
      throw new AgentError('AGENT_ERR_TOKEN_FILE', `token file ${path}: expected a token of at least 16 characters, got ${token.length}`)
    }
    const mode = statSync(path).mode & 0o777
    if (mode & 0o007) logger.warn({ file: path, mode: mode.toString(8) }, 'token file is readable by others; chmod 640 it')
    return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof AgentError) throw err
      throw new AgentError('AGENT_ERR_TOKEN_FILE', `cannot read token file ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  const token = randomBytes(32).toString('hex')
  try {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, `${token}\n`, { mode: 0o640, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(path, logger)
    throw new AgentError('AGENT_ERR_TOKEN_FILE', `cannot create token file ${path}: ${(err as Error).message}`, { cause: err })
  }
  logger.info({ file: path }, 'created a new admin token')
  return token
}

/** Constant-time comparison of an `Authorization` header against the token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header) return false
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) return false
  const digest = (value: string) => createHash('sha256').update(value).digest()
  return timingSafeEqual(digest(match[1] as string), digest(token))
}
