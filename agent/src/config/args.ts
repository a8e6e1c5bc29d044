import { parseArgs, type ParseArgsConfig } from 'node:util'
import { AgentError } from '../errors.js'
import { SETTINGS, type SettingInfo } from './schema.js'
import { CONFIG_ENV } from './load.js'

export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
type ParseOptions = NonNullable<ParseArgsConfig['options']>

export interface ParsedCommandLine {
  /** Values of the schema's settings given as flags, keyed by setting name. */
  settings: Record<string, string | boolean>
  /** Values of the extra (non-setting) options, keyed by their flag name. */
  options: Record<string, string | boolean | undefined>
  positionals: string[]
}

/**
 * Parses argv against the schema's settings (`--state-file`, ...) plus a command's own options.
 * An unknown flag or a missing value becomes an AgentError that a CLI prints as one line.
 */
export function parseCommandLine(
  argv: string[],
  extra: Record<string, OptionSpec>,
  settings: readonly SettingInfo[] = SETTINGS,
): ParsedCommandLine {
  const options: ParseOptions = { ...extra }
  for (const s of settings) options[s.flag] = { type: s.kind === 'boolean' ? 'boolean' : 'string' }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true })
  } catch (err) {
    throw new AgentError('AGENT_ERR_CONFIG', `${(err as Error).message.split('\n')[0]} (see --help)`, { cause: err })
  }
  const values = parsed.values as Record<string, string | boolean | undefined>
  const result: ParsedCommandLine = { settings: {}, options: {}, positionals: parsed.positionals }
  for (const s of settings) {
    const value = values[s.flag]
    if (value !== undefined) result.settings[s.name] = value
  }
  for (const name of Object.keys(extra)) result.options[name] = values[name]
  return result
}

/** Help lines for the settings: flag, environment variable, default and what it does. */
export function settingsHelp(settings: readonly SettingInfo[] = SETTINGS): string {
  const rows = settings.map((s) => {
    const flag = `--${s.flag} ${s.placeholder}`
    const none = s.defaultValue === '' || s.defaultValue === undefined || (Array.isArray(s.defaultValue) && s.defaultValue.length === 0)
    const fallback = none ? '' : ` (default ${String(s.defaultValue)})`
    return `  ${flag.padEnd(30)} ${s.description}${fallback}\n  ${''.padEnd(30)} env ${s.env}`
  })
  return [
    ...rows,
    `  ${'--config FILE'.padEnd(30)} read settings from a JSON or YAML file (camelCase or kebab-case keys)`,
    `  ${''.padEnd(30)} env ${CONFIG_ENV}`,
  ].join('\n')
}
