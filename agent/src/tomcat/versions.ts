/**
 * Tomcat's parallel deployment (`app##002` beside `app##001`), as plain data: the names Tomcat
 * accepts, the order it routes by, and what the manager's `list` says of each deployed version.
 */

/** One deployed version of a context, from `/manager/text/list`. */
export interface DeployedVersion {
  /** The context path, `/app` (or `/` for ROOT). */
  path: string
  /** `''` for an app deployed without a version (`app.war`). */
  version: string
  /** running, stopped, ... as Tomcat says. */
  status: string
  sessions: number
}

// Letters, digits, dot, dash and underscore: what survives as a file name (`app##002.war`), in a
// URL and in Tomcat's own ContextName parsing. `#` would be read as a path or version separator.
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/
const VERSION = /^[A-Za-z0-9._-]+$/
const MAX_VERSION = 64

/** Why Tomcat would refuse (or misread) this context path; null when it is fine. */
export function contextPathProblem(path: string): string | null {
  if (path === '/') return null
  if (!path.startsWith('/')) return `expected a context path starting with / such as /app, got "${path}"`
  const segments = path.slice(1).split('/')
  for (const segment of segments) {
    if (segment === '.' || segment === '..') return `"${path}" has a "${segment}" segment, which Tomcat resolves away`
    if (!SEGMENT.test(segment)) return `expected a context path of letters, digits, ".", "-" and "_" (segments split by /), got "${path}"`
  }
  return null
}

/** Why Tomcat would refuse (or misread) this version; null when it is fine. */
export function versionProblem(version: string): string | null {
  if (version.length === 0) return 'expected a version such as 002 or 20261207T1800, got an empty one'
  if (version.length > MAX_VERSION) return `expected a version of at most ${MAX_VERSION} characters, got ${version.length}`
  if (!VERSION.test(version)) return `expected a version of letters, digits, ".", "-" and "_", got "${version}"`
  return null
}

/** Tomcat's own order (String.compareTo, code unit by code unit): not numeric, so "10" < "9". */
export function compareVersions(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Why a new version would not take the new sessions: Tomcat routes a request without a session
 * to the version that sorts last as text, so a new version must sort after every deployed one.
 */
export function orderProblem(version: string, deployed: readonly string[]): string | null {
  const clash = deployed.find((d) => d === version)
  if (clash !== undefined) return `version "${version}" is already deployed`
  const after = deployed.filter((d) => compareVersions(d, version) > 0)
  if (after.length === 0) return null
  const digits = /^\d+$/.test(version) && after.some((d) => /^\d+$/.test(d))
  return (
    `version "${version}" sorts before the deployed "${after.sort(compareVersions).at(-1)}" (Tomcat compares versions as text), so new sessions would not go to it` +
    (digits ? ': zero-pad numbers to one width from the first version on (such as 009, then 010), or use UTC times' : '')
  )
}

/** A version that sorts after any earlier one made the same way: the UTC time to the second. */
export function timeVersion(now = new Date()): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '')
}

/** `app##002` (or `/path/app##002.war`) -> { name: 'app', version: '002' }. */
function splitDocBase(docBase: string): string {
  const base = docBase.split('/').at(-1) ?? ''
  const name = base.replace(/\.war$/, '')
  const at = name.indexOf('##')
  return at < 0 ? '' : name.slice(at + 2)
}

/**
 * Reads `/manager/text/list`: `OK - Listed applications ...`, then one `path:status:sessions:docBase`
 * line per deployed context version.
 */
export function parseListText(text: string): DeployedVersion[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0)
  const first = lines[0] ?? ''
  if (!first.startsWith('OK')) throw new Error(first ? `manager answered: ${first.slice(0, 200)}` : 'manager answered nothing')
  const versions: DeployedVersion[] = []
  for (const line of lines.slice(1)) {
    const [path, status, sessions, ...rest] = line.split(':')
    if (path === undefined || status === undefined || sessions === undefined || !/^\d+$/.test(sessions)) continue
    versions.push({ path, status, sessions: Number(sessions), version: splitDocBase(rest.join(':')) })
  }
  return versions
}

/** The deployed versions of one context, oldest first (the last one takes new sessions). */
export function versionsOf(all: readonly DeployedVersion[], path: string): DeployedVersion[] {
  return all.filter((v) => v.path === path).sort((a, b) => compareVersions(a.version, b.version))
}

/**
 * The version that takes new sessions: the newest one running. A version still starting (or one
 * that failed to start) shows as stopped and is not in Tomcat's request mapping yet.
 */
export function takerOf<T extends { status: string }>(versions: readonly T[]): T | null {
  return versions.findLast((v) => v.status === 'running') ?? null
}

/** What a deployed version does for users: takes the new sessions, drains its own, or is stopped. */
export function roleOf<T extends { status: string }>(versions: readonly T[], version: T): 'new' | 'old' | 'stopped' {
  if (version.status !== 'running') return 'stopped'
  return takerOf(versions) === version ? 'new' : 'old'
}
