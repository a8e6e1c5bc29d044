import { Type, FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { parseListenAddress } from './listen-address.js'

FormatRegistry.Set('listen-address', (value) => parseListenAddress(value) !== null)
FormatRegistry.Set('url-path', (value) => /^\/[^\s?#]*$/.test(value))
// HAProxy's agent check speaks TCP only: no unix: here.
FormatRegistry.Set('optional-tcp-listen-address', (value) => value === '' || parseListenAddress(value)?.kind === 'tcp')

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
    agentCheckListen: Type.String({
      default: '',
      format: 'optional-tcp-listen-address',
      description: 'HAProxy agent-check listener (TCP, read-only): answers each connection with one line from the same state, e.g. "ready up 100%"; off when empty',
      expected: 'HOST:PORT such as 0.0.0.0:9992 (TCP only), or empty for off',
      placeholder: 'HOST:PORT',
    }),
    agentCheckTimeoutMs: Type.Integer({
      default: 5000,
      minimum: 100,
      maximum: 60000,
      description: 'an agent-check connection idle or unread for this long is closed',
      expected: 'an integer number of milliseconds from 100 to 60000',
      placeholder: 'MS',
    }),
    agentCheckMaxconn: Type.Integer({
      default: 100,
      minimum: 1,
      maximum: 10000,
      description: 'agent-check connections open at once; more are closed at once (HAProxy counts that as no answer, not a failure)',
      expected: 'an integer from 1 to 10000',
      placeholder: 'N',
    }),
    weightRampStartPercent: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 100,
      description: 'agent-check weight ramp: the weight (% of the server\'s HAProxy weight) reported when the server becomes ready again',
      expected: 'an integer percentage from 1 to 100',
      placeholder: 'N',
    }),
    weightRampMs: Type.Integer({
      default: 60000,
      minimum: 0,
      maximum: 3600000,
      description: 'agent-check weight ramp: time from the start weight to 100% after the server becomes ready again; 0 for no ramp',
      expected: 'an integer number of milliseconds from 0 to 3600000',
      placeholder: 'MS',
    }),
    weightRampSteps: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 100,
      description: 'agent-check weight ramp: number of equal increases from the start weight to 100%',
      expected: 'an integer from 1 to 100',
      placeholder: 'N',
    }),
    weightFile: Type.String({
      default: '',
      description: 'where a weight override set with agentctl weight is kept across restarts (default DATA_DIR/weight.json)',
      expected: 'a file path',
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
