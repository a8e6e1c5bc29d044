import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname, join, resolve } from 'node:path'
import type { Static, TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { parse } from 'yaml'
import { AgentError, describeValue } from '../errors.js'
import { readEnvFile } from './env-file.js'
import { defaultInstallPaths, type InstallPaths } from './paths.js'
import { ClientSchema, CLIENT_SETTINGS, ConfigSchema, SETTINGS, ENV_PREFIX, settingInfo, type Config, type SettingInfo } from './schema.js'

export type SettingSource = 'default' | 'config file' | 'environment' | 'flag'

/** A validated, frozen configuration whose file paths are absolute. */
export type ResolvedConfig = Readonly<Config> & { readonly configFile: string | null }

export interface LoadConfigOptions {
  /** Values from command-line flags, keyed by setting name, as parsed strings or booleans. */
  flags?: Partial<Record<string, string | boolean>>
  env?: NodeJS.ProcessEnv
  /** `--config FILE`; when absent, `HEALTH_AGENT_CONFIG`, then the first of the install's config files that exists. */
  configFile?: string
  cwd?: string
  /** Where an installed agent's files are (the system's, or a development checkout's). */
  installPaths?: InstallPaths
}

export const CONFIG_ENV = `${ENV_PREFIX}CONFIG`

/**
 * The YAML parser is loaded when a YAML config file is read, not at every start: loading it
 * costs about 45 ms, and agentctl runs several times per host in a rolling deploy. (The yaml
 * package serves Node.js its CommonJS build either way.)
 */
function parseYaml(text: string): unknown {
  // In a bundle, `require` is the bundle's own and esbuild puts yaml inside (the single
  // executable can load nothing from disk); the sources, run as ES modules, have no `require`.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yaml = (typeof require === 'function' ? require('yaml') : createRequire(import.meta.url)('yaml')) as { parse: typeof parse }
  return yaml.parse(text)
}

function camelCase(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_, c: string) => c.toUpperCase())
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new AgentError('AGENT_ERR_CONFIG_FILE', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = extname(path) === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    throw new AgentError(
      'AGENT_ERR_CONFIG_FILE',
      `config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
      { cause: err },
    )
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new AgentError('AGENT_ERR_CONFIG_FILE', `config file ${path}: expected a mapping of settings, got ${describeValue(parsed)}`)
  }
  const values: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const name = camelCase(key)
    if (!settingInfo(name)) {
      throw new AgentError(
        'AGENT_ERR_CONFIG_FILE',
        `config file ${path}: unknown setting "${key}" (known: ${SETTINGS.map((s) => s.name).join(', ')})`,
      )
    }
    values[name] = value
  }
  return values
}

/** Strings from the environment or flags become the setting's type; what cannot be converted stays as it is for validation to report. */
function coerce(info: SettingInfo, value: unknown): unknown {
  if (typeof value !== 'string') return value
  switch (info.kind) {
    case 'integer':
      return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value
    case 'boolean':
      if (/^(true|1|yes|on)$/i.test(value)) return true
      if (/^(false|0|no|off)$/i.test(value)) return false
      return value
    case 'list':
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0)
    default:
      return value
  }
}

function sourceLabel(info: SettingInfo, source: SettingSource, configFile: string | null): string {
  switch (source) {
    case 'flag':
      return `--${info.flag}`
    case 'environment':
      return info.env
    case 'config file':
      return `${info.name} in ${configFile}`
    default:
      return `default of ${info.name}`
  }
}

interface LoadedSettings {
  values: Record<string, unknown>
  configFile: string | null
  cwd: string
}

/**
 * Merges defaults, the config file, HEALTH_AGENT_* variables and flags (later wins) for the
 * settings of `schema`, and validates them once. An invalid value throws one AgentError that
 * names the setting, where it came from, what was expected and what arrived. Settings of the
 * config file that are not in `schema` (the agent's, read by agentctl) are left alone.
 */
function loadSettings(schema: TObject, settings: readonly SettingInfo[], options: LoadConfigOptions, paths: InstallPaths): LoadedSettings {
  // The unit's environment file under the real environment, as systemd builds the agent's.
  const env = { ...(paths.envFile ? readEnvFile(paths.envFile) : {}), ...(options.env ?? process.env) }
  const cwd = options.cwd ?? process.cwd()
  const configFileArg = options.configFile ?? env[CONFIG_ENV] ?? paths.configFiles.find((file) => existsSync(file))
  const configFile = configFileArg ? resolve(cwd, configFileArg) : null
  const find = (name: string) => settings.find((s) => s.name === name)

  const raw: Record<string, unknown> = {}
  const sources: Record<string, SettingSource> = {}
  const layer = (values: Record<string, unknown>, source: SettingSource) => {
    for (const [name, value] of Object.entries(values)) {
      const info = find(name)
      if (value === undefined || !info) continue
      raw[name] = coerce(info, value)
      sources[name] = source
    }
  }

  if (configFile) layer(readConfigFile(configFile), 'config file')
  layer(Object.fromEntries(settings.map((s) => [s.name, env[s.env]])), 'environment')
  layer(options.flags ?? {}, 'flag')

  const withDefaults = Value.Default(schema, structuredClone(raw)) as Record<string, unknown>
  const firstError = Value.Errors(schema, withDefaults).First()
  if (firstError) {
    const name = firstError.path.split('/')[1] ?? ''
    const info = find(name)
    if (!info) throw new AgentError('AGENT_ERR_CONFIG', `unknown setting "${name}"`)
    const source = sources[name] ?? 'default'
    throw new AgentError(
      'AGENT_ERR_CONFIG',
      `invalid ${info.name} (${sourceLabel(info, source, configFile)}): expected ${info.expected}, got ${describeValue(firstError.value)}`,
    )
  }
  return { values: withDefaults, configFile, cwd }
}

/** The data folder and a file in it, unless the file's own setting names another place. */
function dataPaths(
  values: { dataDir: string },
  cwd: string,
  paths: InstallPaths,
): { dataDir: string; pathOr: (value: string, fallback: string) => string } {
  const dataDir = resolve(cwd, values.dataDir || paths.dataDir)
  return { dataDir, pathOr: (value, fallback) => resolve(cwd, value || join(dataDir, fallback)) }
}

/** The agent's whole configuration, validated and frozen, with absolute file paths. */
export function loadConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const paths = options.installPaths ?? defaultInstallPaths()
  const { values, configFile, cwd } = loadSettings(ConfigSchema, SETTINGS, options, paths)
  const config = values as Config
  const { dataDir, pathOr } = dataPaths(config, cwd, paths)
  return Object.freeze({
    ...config,
    dataDir,
    stateFile: pathOr(config.stateFile, 'state'),
    auditFile: pathOr(config.auditFile, 'audit.log'),
    tokenFile: pathOr(config.tokenFile, 'admin-token'),
    weightFile: pathOr(config.weightFile, 'weight.json'),
    logFile: config.logFile ? resolve(cwd, config.logFile) : '',
    accessLogFile: config.accessLogFile ? resolve(cwd, config.accessLogFile) : '',
    accessLogPositionFile: pathOr(config.accessLogPositionFile, 'access-log.position'),
    tomcatManagerCredentialsFile: config.tomcatManagerCredentialsFile ? resolve(cwd, config.tomcatManagerCredentialsFile) : '',
    configFile,
  })
}

/** What agentctl reads of the settings: only these are validated, so a bad agent-only setting does not stop it. */
export type ClientConfig = Readonly<Static<typeof ClientSchema>> & { readonly configFile: string | null }

export function loadClientConfig(options: LoadConfigOptions = {}): ClientConfig {
  const paths = options.installPaths ?? defaultInstallPaths()
  const { values, configFile, cwd } = loadSettings(ClientSchema, CLIENT_SETTINGS, options, paths)
  const client = values as Static<typeof ClientSchema>
  const { dataDir, pathOr } = dataPaths(client, cwd, paths)
  return Object.freeze({
    ...client,
    dataDir,
    tokenFile: pathOr(client.tokenFile, 'admin-token'),
    tomcatManagerCredentialsFile: client.tomcatManagerCredentialsFile ? resolve(cwd, client.tomcatManagerCredentialsFile) : '',
    configFile,
  })
}
