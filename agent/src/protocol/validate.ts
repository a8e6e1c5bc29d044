import type { TObject } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import { Value } from '@sinclair/typebox/value'
import { AgentError, describeValue } from '../errors.js'

/** Where a request's values come from: a JSON body keeps its types, a query string is text to convert. */
export type RequestPart = 'body' | 'query'

export type ValidationResult<T> = { value: T } | { error: AgentError }

/** Extra words for a field whose refusal deserves a pointer (a 0% weight: use drain). */
export type FieldHints = Readonly<Record<string, (value: unknown) => string>>

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

function message(error: ValueError, schema: TObject, part: RequestPart, hints: FieldHints): string {
  const key = error.path.split('/')[1] ?? ''
  const field = `"${key}"`
  const known = Object.keys(schema.properties).join(', ')
  const expected = error.schema.description as string | undefined
  switch (error.type) {
    case ValueErrorType.Object:
      if (error.path === '') {
        const example = (schema.examples as string[] | undefined)?.[0]
        return `expected a JSON object${example ? ` such as ${example}` : ''}, got ${typeName(error.value)}`
      }
      break
    case ValueErrorType.ObjectAdditionalProperties:
      return `unknown ${part === 'query' ? 'parameter' : 'field'} ${field}: expected ${known}`
    case ValueErrorType.ObjectRequiredProperty:
      return `${field} is missing${expected ? `: expected ${expected}` : ''}`
    case ValueErrorType.String:
      return `${field}: expected a string, got ${typeName(error.value)}`
    case ValueErrorType.StringMaxLength:
      return `${field}: expected at most ${error.schema.maxLength as number} characters, got ${(error.value as string).length}`
  }
  const hint = hints[key]?.(error.value) ?? ''
  return `${field}: expected ${expected ?? error.message}, got ${describeValue(error.value)}${hint}`
}

/**
 * A validator for one request part: the schema's own checks, each refusal one AgentError
 * (AGENT_ERR_BAD_REQUEST) that names the field, what was expected and what arrived.
 */
export function requestValidator<T>(schema: TObject, part: RequestPart, hints: FieldHints = {}): (data: unknown) => ValidationResult<T> {
  const compiled = TypeCompiler.Compile(schema)
  return (data) => {
    // A request without a body is an empty one: its required fields are then named as missing.
    const input = data === undefined || data === null ? {} : part === 'query' ? Value.Convert(schema, data) : data
    if (compiled.Check(input)) return { value: input as T }
    const first = compiled.Errors(input).First() as ValueError
    return { error: new AgentError('AGENT_ERR_BAD_REQUEST', message(first, schema, part, hints)) }
  }
}

/** Validates or throws: for callers outside fastify (agentctl checks what it is about to send). */
export function validateRequest<T>(schema: TObject, data: unknown, part: RequestPart = 'body', hints: FieldHints = {}): T {
  const result = requestValidator<T>(schema, part, hints)(data)
  if ('error' in result) throw result.error
  return result.value
}
