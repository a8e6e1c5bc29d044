import { Type, FormatRegistry, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import { parseCidr } from './cidr.js'
import { parseListenAddress } from './listen-address.js'

FormatRegistry.Set('listen-address', (value) => parseListenAddress(value) !== null)
FormatRegistry.Set('cidr', (value) => parseCidr(value) !== null)
FormatRegistry.Set('url-path', (value) => /^\/[^\s?#]*$/.test(value))
FormatRegistry.Set('http-url-or-empty', (value) => value === '' || isPlainHttpUrl(value))
FormatRegistry.Set('warmup-url', (value) => (value.startsWith('/') ? /^\/\S*$/.test(value) : isPlainHttpUrl(value)))
FormatRegistry.Set('regex-or-empty', (value) => {
  try {
    new RegExp(value)
    return true
  } catch {
    return false
  }
})

/** http(s), a host, no user:password (credentials go in a file, never in a URL that is logged) and no #fragment. */
function isPlainHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.hostname !== '' &&
      url.username === '' &&
      url.password === '' &&
      !value.includes('#')
    )
  } catch {
    return false
  }
}
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
      description:
        'folder for the state, audit and token files when their own paths are not set (default /var/lib/tomcat-health-agent; var/ in a development checkout)',
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
    checkHoldMaxMs: Type.Integer({
      default: 1000,
      minimum: 0,
      maximum: 60000,
      description:
        "longest a check is held open when its load balancer asks for it (header X-Health-Hold) and already shows the answer: it is answered the moment the answer changes, so HAProxy acts at once instead of at its next inter; keep it below HAProxy's timeout check; 0 answers every check at once",
      expected: 'an integer number of milliseconds from 0 to 60000',
      placeholder: 'MS',
    }),
    agentCheckListen: Type.String({
      default: '',
      format: 'optional-tcp-listen-address',
      description:
        'HAProxy agent-check listener (TCP, read-only): answers each connection with one line from the same state, e.g. "ready up 100%"; off when empty',
      expected: 'HOST:PORT such as 0.0.0.0:9992 (TCP only), or empty for off',
      placeholder: 'HOST:PORT',
    }),
    agentCheckTimeoutMs: Type.Integer({
      default: 5000,
      minimum: 100,
      maximum: 60000,
      description: 'an agent-check connection still open this long after it was accepted is closed, whatever the peer sends',
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
      description: "agent-check weight ramp: the weight (% of the server's HAProxy weight) reported when the server becomes ready again",
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
    tomcatUrl: Type.String({
      default: '',
      format: 'http-url-or-empty',
      description:
        'URL the agent probes to know Tomcat is alive, e.g. http://127.0.0.1:8080/app/health; empty: no probe, the admin state alone decides',
      expected: 'an http:// or https:// URL without user:password, such as http://127.0.0.1:8080/app/health, or empty',
      placeholder: 'URL',
    }),
    tomcatIntervalMs: Type.Integer({
      default: 1000,
      minimum: 50,
      maximum: 600000,
      description: 'time between the starts of two Tomcat probes (a probe that takes longer delays the next one)',
      expected: 'an integer number of milliseconds from 50 to 600000',
      placeholder: 'MS',
    }),
    tomcatFastIntervalMs: Type.Integer({
      default: 100,
      minimum: 50,
      maximum: 600000,
      description:
        'time between probe starts while the admin state is drain or down, or a return to ready waits for fresh probes: a restart shorter than fall x interval is still seen',
      expected: 'an integer number of milliseconds from 50 to 600000',
      placeholder: 'MS',
    }),
    tomcatPidFile: Type.String({
      default: '',
      description:
        "Tomcat's PID file (CATALINA_PID), read after every probe: a new process there is a restart (500 until rise probes and the warm-up pass again), however short; empty: not read",
      expected: 'a file path, or empty',
      placeholder: 'PATH',
    }),
    tomcatTimeoutMs: Type.Integer({
      default: 2000,
      minimum: 10,
      maximum: 600000,
      description: 'a probe (connect, answer and body) not finished within this time fails: a hung Tomcat counts as down',
      expected: 'an integer number of milliseconds from 10 to 600000',
      placeholder: 'MS',
    }),
    tomcatFall: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 100,
      description: 'failed probes in a row that make the agent answer down (500), whatever the admin state',
      expected: 'an integer from 1 to 100',
      placeholder: 'N',
    }),
    tomcatRise: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 100,
      description: 'passing probes in a row that bring a down Tomcat back (then the warm-up runs)',
      expected: 'an integer from 1 to 100',
      placeholder: 'N',
    }),
    tomcatExpectStatus: Type.Array(Type.String({ pattern: '^([1-5][0-9][0-9]|[1-5]xx)$' }), {
      default: ['2xx', '3xx'],
      minItems: 1,
      description: 'HTTP status codes that make a probe (or a warm-up request) pass: codes or classes, comma-separated',
      expected: 'a comma-separated list of status codes or classes such as 200,204 or 2xx,3xx',
      placeholder: 'LIST',
    }),
    tomcatExpectBody: Type.String({
      default: '',
      format: 'regex-or-empty',
      description: 'regular expression the probe answer body must match (its first 64 KiB); empty: any body',
      expected: 'a JavaScript regular expression such as ^UP, or empty',
      placeholder: 'REGEX',
    }),
    tomcatStartupPolicy: Type.Union([Type.Literal('down'), Type.Literal('admin')], {
      default: 'down',
      description:
        'answer before the first probe result: down (500 until the probe passes and the warm-up is done) or admin (the admin state at once, no warm-up for a Tomcat already up)',
      expected: 'one of down, admin',
      placeholder: 'POLICY',
    }),
    warmupUrls: Type.Array(Type.String({ format: 'warmup-url' }), {
      default: [],
      description:
        "URLs requested after Tomcat comes (back) up and before answering 200, comma-separated: paths are relative to the Tomcat URL's origin, or absolute URLs",
      expected: 'a comma-separated list of paths starting with / or http(s):// URLs, such as /app/,/app/index.jsp',
      placeholder: 'LIST',
    }),
    warmupRequests: Type.Integer({
      default: 1,
      minimum: 1,
      maximum: 100000,
      description: 'requests per warm-up URL (at least; see --warmup-duration-ms)',
      expected: 'an integer from 1 to 100000',
      placeholder: 'N',
    }),
    warmupDurationMs: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 3600000,
      description: 'when above 0, the warm-up URLs are requested again and again (round-robin) until this long has passed',
      expected: 'an integer number of milliseconds from 0 to 3600000',
      placeholder: 'MS',
    }),
    warmupConcurrency: Type.Integer({
      default: 2,
      minimum: 1,
      maximum: 64,
      description: 'warm-up requests in flight at once',
      expected: 'an integer from 1 to 64',
      placeholder: 'N',
    }),
    warmupTimeoutMs: Type.Integer({
      default: 30000,
      minimum: 10,
      maximum: 600000,
      description: 'a warm-up request not answered within this time fails (the first JSP compile can be slow)',
      expected: 'an integer number of milliseconds from 10 to 600000',
      placeholder: 'MS',
    }),
    warmupMaxFailures: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 1000000,
      description: 'failed warm-up requests tolerated; more than this and --warmup-on-failure decides',
      expected: 'an integer from 0 to 1000000',
      placeholder: 'N',
    }),
    warmupOnFailure: Type.Union([Type.Literal('down'), Type.Literal('ready')], {
      default: 'down',
      description: 'after too many warm-up failures: down (stay 500, retry the warm-up later) or ready (answer the admin state anyway)',
      expected: 'one of down, ready',
      placeholder: 'POLICY',
    }),
    tomcatManagerUrl: Type.String({
      default: '',
      format: 'http-url-or-empty',
      description:
        'Tomcat manager base URL for busy threads and sessions while draining, e.g. http://127.0.0.1:8080/manager; empty: not polled',
      expected: 'an http:// or https:// URL without user:password, such as http://127.0.0.1:8080/manager, or empty',
      placeholder: 'URL',
    }),
    tomcatManagerCredentialsFile: Type.String({
      default: '',
      description: 'file holding USER:PASSWORD of a manager-script/manager-status user (read at each poll, never logged)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
    tomcatManagerContexts: Type.Array(Type.String({ pattern: '^/\\S*$' }), {
      default: [],
      description: 'context paths whose active sessions are counted, comma-separated (default: the context of --tomcat-url)',
      expected: 'a comma-separated list of context paths such as /app,/shop',
      placeholder: 'LIST',
    }),
    tomcatManagerPollMs: Type.Integer({
      default: 1000,
      minimum: 100,
      maximum: 600000,
      description: 'how often the manager is polled while the admin state is drain or down',
      expected: 'an integer number of milliseconds from 100 to 600000',
      placeholder: 'MS',
    }),
    lbStaleMs: Type.Integer({
      default: 10000,
      minimum: 100,
      maximum: 3600000,
      description:
        'a load balancer that has not checked for this long is stale: ignored by drain confirmation unless expected (a few times its inter/downinter)',
      expected: 'an integer number of milliseconds from 100 to 3600000',
      placeholder: 'MS',
    }),
    accessLogFile: Type.String({
      default: '',
      description:
        'Tomcat\'s access log (an AccessLogValve with rotatable="false", or rotated by rename or truncation), followed for per-deploy response counts and latency on /metrics; empty: not read',
      expected: 'a file path, or empty',
      placeholder: 'PATH',
    }),
    accessLogPattern: Type.String({
      default: '%h %l %u %t "%r" %s %b %D',
      minLength: 1,
      description:
        'the AccessLogValve pattern of --access-log-file, as in server.xml (&quot; accepted): it needs %s and the time taken (%D, %T, %F or %{ms}T)',
      expected: 'an AccessLogValve pattern with %s and %D such as %h %l %u %t "%r" %s %b %D',
      placeholder: 'PATTERN',
    }),
    accessLogPositionFile: Type.String({
      default: '',
      description: 'where the read position in the access log is kept across restarts (default DATA_DIR/access-log.position)',
      expected: 'a file path',
      placeholder: 'PATH',
    }),
    pageDetail: Type.Union([Type.Literal('public'), Type.Literal('full')], {
      default: 'public',
      description:
        'what the status page on the health listener (/status) shows: public (no who or why of the admin state) or full (with them; only where everyone who reaches the health listener may read them)',
      expected: 'one of public, full',
      placeholder: 'DETAIL',
    }),
    expectLb: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\s,;]+$' }), {
      default: [],
      description:
        'load balancers that must confirm a drain, comma-separated: their node names (or source addresses for checkers without send-state)',
      expected: 'a comma-separated list of node names such as lb1,lb2',
      placeholder: 'LB,LB',
    }),
    lbSources: Type.Array(Type.String({ format: 'cidr' }), {
      default: [],
      description:
        'networks whose checks may count as load balancers, comma-separated CIDRs (10.0.0.0/24,fd00::/64, or single addresses); a check from elsewhere gets its answer but is not kept; empty: any source (warned about when the health listener is on a wildcard address)',
      expected: 'a comma-separated list of CIDRs such as 10.0.0.0/24,192.0.2.7',
      placeholder: 'CIDR,CIDR',
    }),
    maxLbViews: Type.Integer({
      default: 10000,
      minimum: 1,
      maximum: 1000000,
      description:
        'at most this many load balancer views are kept (the longest silent are dropped first, never one heard from within --lb-stale-ms: the newcomer is refused)',
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
  name: string
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

/** Flag, environment name and help of every property of a settings schema. */
export function settingsOf(schema: TObject): readonly SettingInfo[] {
  return Object.entries(schema.properties).map(([name, property]: [string, TSchema]) => ({
    name,
    flag: typeof property.flag === 'string' ? property.flag : flagName(name),
    env: envName(name),
    description: String(property.description ?? ''),
    expected: String(property.expected ?? ''),
    placeholder: String(property.placeholder ?? 'VALUE'),
    defaultValue: property.default,
    kind: kindOf(property),
  }))
}

export const SETTINGS: readonly SettingInfo[] = settingsOf(ConfigSchema)

export function settingInfo(name: string): SettingInfo | undefined {
  return SETTINGS.find((s) => s.name === name)
}

/**
 * agentctl's settings: where the agent's admin API is (its --admin-listen, or --agent URL) and
 * where its token is. Read from the same config file and environment as the agent's.
 */
export const ClientSchema = Type.Object(
  {
    url: Type.String({
      default: '',
      description: "admin API of the agent: http://HOST:PORT or unix:/PATH (default: the agent's --admin-listen)",
      expected: 'http://HOST:PORT or unix:/PATH',
      placeholder: 'URL',
      flag: 'agent',
    }),
    ...Type.Pick(ConfigSchema, ['adminListen', 'tokenFile', 'dataDir', 'tomcatManagerUrl', 'tomcatManagerCredentialsFile']).properties,
  },
  { additionalProperties: false },
)

export const CLIENT_SETTINGS: readonly SettingInfo[] = settingsOf(ClientSchema)
