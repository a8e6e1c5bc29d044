import { Type, FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { parseListenAddress } from './listen-address.js'

FormatRegistry.Set('listen-address', (value) => parseListenAddress(value) !== null)
FormatRegistry.Set('url-path', (value) => /^\/[^\s?#]*$/.test(value))

/**
 * Every setting of the agent, in one place: its type, default, help text and what a valid
 * value looks like. Flags (`--state-file`) and environment variables (`HEALTH_AGENT_STATE_FILE`)
 * are derived from the property names, so a setting cannot be documented under one name and read
 * under another. Paths left empty are derived from `dataDir` after loading.
 */
export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({
      default: '',
      description: 'folder for the state, audit and token files when their own paths are not set (default: var/ in the package folder)',
      expected: 'a folder path',
      placeholder: 'DIR',
    }),
    stateFile: Type.String({
      default: '',
      description: 'the state file, the single source of truth for the admin state (default DATA_DIR/state)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
    auditFile: Type.String({
      default: '',
      description: 'append-only audit log of state changes, JSON lines (default DATA_DIR/audit.log)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
    tokenFile: Type.String({
      default: '',
      description: 'bearer token of the admin listener; created (random, mode 0600) if missing (default DATA_DIR/admin-token)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
    listen: Type.String({
      default: '0.0.0.0:9990',
      format: 'listen-address',
      description: 'health listener, read-only, for the load balancers: the check path, /metrics, /',
      expected: 'HOST:PORT such as 0.0.0.0:9990 or [::1]:9990',
      placeholder: 'HOST:PORT',
    }),
    adminListen: Type.String({
      default: '127.0.0.1:9991',
      format: 'listen-address',
      description: 'admin listener (token required): HOST:PORT, loopback by default, or unix:PATH',
      expected: 'HOST:PORT such as 127.0.0.1:9991, or unix:/path/to/socket',
      placeholder: 'HOST:PORT',
    }),
    checkPath: Type.String({
      default: '/health',
      format: 'url-path',
      description: 'path the load balancers check (GET, HEAD, OPTIONS): 200 ready, 404 drain, 500 down',
      expected: 'a URL path starting with / such as /health',
      placeholder: 'PATH',
    }),
    initialState: Type.Union([Type.Literal('ready'), Type.Literal('drain'), Type.Literal('down')], {
      default: 'ready',
      description: 'admin state written to the state file when it does not exist at first start',
      expected: 'one of ready, drain, down',
      placeholder: 'STATE',
    }),
    statePollMs: Type.Integer({
      default: 1000,
      minimum: 50,
      maximum: 60000,
      description: 'how often the state file is also checked by polling, in case a file-system event is lost',
      expected: 'an integer number of milliseconds from 50 to 60000',
      placeholder: 'MS',
    }),
    lbStaleMs: Type.Integer({
      default: 10000,
      minimum: 100,
      maximum: 3600000,
      description: 'a load balancer that has not checked for this long is stale: ignored by drain confirmation unless expected (a few times its inter/downinter)',
      expected: 'an integer number of milliseconds from 100 to 3600000',
      placeholder: 'MS',
    }),
    expectLb: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\s,;]+$' }), {
      default: [],
      description: 'load balancers that must confirm a drain, comma-separated: their node names (or source addresses for checkers without send-state)',
      expected: 'a comma-separated list of node names such as lb1,lb2',
      placeholder: 'LB,LB',
    }),
    maxLbViews: Type.Integer({
      default: 10000,
      minimum: 1,
      maximum: 1000000,
      description: 'at most this many load balancer views are kept (the longest silent are dropped first)',
      expected: 'an integer from 1 to 1000000',
      placeholder: 'N',
    }),
    maxSessions: Type.Integer({
      default: -1,
      minimum: -1,
      maximum: 100000000,
      description: 'with Tomcat manager signals wired in: a drain needs at most N active sessions to be confirmed; -1 ignores sessions',
      expected: 'an integer from -1 (ignore sessions) up',
      placeholder: 'N',
    }),
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      {
        default: 'info',
        description: 'log level',
        expected: 'one of fatal, error, warn, info, debug, trace, silent',
        placeholder: 'LEVEL',
      },
    ),
    logFile: Type.String({
      default: '',
      description: 'write the JSON log to this file instead of standard output (reopened on SIGHUP)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
  },
  { additionalProperties: false },
)

export type Config = Static<typeof ConfigSchema>

export type SettingName = keyof Config & string

/** Metadata read from a setting's schema for flags, environment, help and error messages. */
export interface SettingInfo {
  name: SettingName
  flag: string
  env: string
  description: string
  expected: string
  placeholder: string
  defaultValue: unknown
  kind: 'string' | 'integer' | 'boolean' | 'list'
}

export const ENV_PREFIX = 'HEALTH_AGENT_'

export function flagName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

export function envName(name: string): string {
  return ENV_PREFIX + flagName(name).replace(/-/g, '_').toUpperCase()
}

function kindOf(schema: TSchema): SettingInfo['kind'] {
  if (schema.type === 'integer' || schema.type === 'number') return 'integer'
  if (schema.type === 'boolean') return 'boolean'
  if (schema.type === 'array') return 'list'
  return 'string'
}

export const SETTINGS: readonly SettingInfo[] = Object.entries(ConfigSchema.properties).map(
  ([name, schema]: [string, TSchema]) => ({
    name: name as SettingName,
    flag: flagName(name),
    env: envName(name),
    description: String(schema.description ?? ''),
    expected: String(schema.expected ?? ''),
    placeholder: String(schema.placeholder ?? 'VALUE'),
    defaultValue: schema.default,
    kind: kindOf(schema),
  }),
)

export function settingInfo(name: string): SettingInfo | undefined {
  return SETTINGS.find((s) => s.name === name)
}
