import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { fchmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { readTokenFile } from '../config/token-file.js'
import { AgentError } from '../errors.js'

/**
 * Reads the token file (see readTokenFile: no symlink, a regular file, a size cap) that its owner
 * and group (deploy users) may read and nobody else. One that others can read, or the group can
 * write, is made private to owner and group (chmod 640) with a warning, since the token may have
 * been read already; one the agent cannot fix is refused.
 */
function readOwnTokenFile(path: string, logger: Logger): string {
  return readTokenFile(path, (fd, stat) => {
    const mode = stat.mode & 0o777
    if (!(mode & 0o027)) return
    try {
      fchmodSync(fd, mode & 0o740)
    } catch (err) {
      throw new AgentError(
        'AGENT_ERR_TOKEN_FILE',
        `token file ${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}) and cannot be made private: ${(err as Error).message}; chmod 640 it`,
        { cause: err },
      )
    }
    logger.warn(
      { file: path, was: mode.toString(8).padStart(4, '0'), now: (mode & 0o740).toString(8).padStart(4, '0') },
      'token file was readable by others: made private; replace the token if others could read it',
    )
  })
}

/**
 * Reads the admin token, creating a random one when the file does not exist: mode 0640, so that
 * the members of the agent's group (deploy users) can use agentctl, and nobody else.
 */
export function loadOrCreateToken(path: string, logger: Logger): string {
  try {
    const token = readOwnTokenFile(path, logger)
    if (token.length < 16) {
      throw new AgentError('AGENT_ERR_TOKEN_FILE', `token file ${path}: expected a token of at least 16 characters, got ${token.length}`)
    }
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
