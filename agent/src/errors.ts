/**
 * The agent's error catalogue: every expected failure has a stable code, an HTTP status
 * (for the admin API) and a message that names the input, what was expected and what arrived.
 */
export const ERROR_CODES = {
  AGENT_ERR_CONFIG: 400,
  AGENT_ERR_CONFIG_FILE: 400,
  AGENT_ERR_STATE_PARSE: 400,
  AGENT_ERR_STATE_FILE: 500,
  AGENT_ERR_TOKEN_FILE: 500,
  AGENT_ERR_LISTEN: 500,
  AGENT_ERR_UNAUTHORIZED: 401,
  AGENT_ERR_BAD_REQUEST: 400,
  AGENT_ERR_NOT_FOUND: 404,
  AGENT_ERR_WRONG_STATE: 409,
  AGENT_ERR_INTERNAL: 500,
} as const

export type ErrorCode = keyof typeof ERROR_CODES

export class AgentError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'AgentError'
    this.code = code
    this.statusCode = ERROR_CODES[code]
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return err instanceof AgentError
}

/** A short, quoted rendering of an arbitrary value for "expected X, got Y" messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
