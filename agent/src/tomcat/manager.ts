import { readFile } from 'node:fs/promises'
import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import { httpGet } from './http-get.js'
import type { ManagerSettings } from './settings.js'
import { parseListText, versionsOf } from './versions.js'
import type { ContextVersion, ManagerSignals } from '../protocol/status.js'
export type { ManagerSignals }

export const NO_SIGNALS: ManagerSignals = { busyThreads: null, sessions: null, versions: null, at: null, error: null }

const USER_AGENT = `${PACKAGE_NAME}/${PACKAGE_VERSION} (manager)`
const MAX_BODY = 1024 * 1024

export interface ConnectorThreads {
  name: string
  busy: number
  max: number | null
}

/** Reads `<connector name='...'><threadInfo ... currentThreadsBusy="N" />` from `/manager/status?XML=true`. */
export function parseStatusXml(xml: string): ConnectorThreads[] {
  const connectors: ConnectorThreads[] = []
  const pattern = /<connector\s+name='([^']*)'\s*>\s*<threadInfo\b([^>]*)\/?>/g
  for (const match of xml.matchAll(pattern)) {
    const attributes = match[2] ?? ''
    const busy = /\bcurrentThreadsBusy="(-?\d+)"/.exec(attributes)
    if (!busy) continue
    const max = /\bmaxThreads="(-?\d+)"/.exec(attributes)
    connectors.push({ name: (match[1] ?? '').replace(/^"|"$/g, ''), busy: Number(busy[1]), max: max ? Number(max[1]) : null })
  }
  return connectors
}

/**
 * Sums the session counts of `/manager/text/sessions?path=...`: after the `OK - ...` line and the
 * default-timeout line, each line ends with a bracketed count (`Inactive for [<1] minutes: [3] sessions`).
 */
export function parseSessionsText(text: string): number {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0)
  const first = lines[0] ?? ''
  if (!first.startsWith('OK')) throw new Error(first ? `manager answered: ${first.slice(0, 200)}` : 'manager answered nothing')
  let total = 0
  for (const line of lines.slice(2)) {
    const counts = [...line.matchAll(/\[(\d+)\]/g)]
    const last = counts.at(-1)
    if (last) total += Number(last[1])
  }
  return total
}

/** `USER:PASSWORD` on the first non-empty line. Errors name the file, never its content. */
export async function readCredentials(path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the manager credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  const line =
    text
      .split(/\r?\n/)
      .find((l) => l.trim().length > 0)
      ?.trim() ?? ''
  const colon = line.indexOf(':')
  if (colon <= 0) throw new Error(`manager credentials file ${path}: expected USER:PASSWORD on its first line`)
  return `Basic ${Buffer.from(line).toString('base64')}`
}

type Get = (path: string) => Promise<string>

/** Busy request threads of all connectors, without the one rendering this status page. */
async function readBusyThreads(get: Get): Promise<number> {
  const connectors = parseStatusXml(await get('/status?XML=true'))
  if (connectors.length === 0) throw new Error('GET /status?XML=true: no connector thread information in the answer')
  // The thread rendering this status page is busy too, and is not the application's work.
  return Math.max(0, connectors.reduce((sum, c) => sum + c.busy, 0) - 1)
}

/** Every deployed version of each watched context, with its active sessions, from one `list`. */
async function readVersions(get: Get, contexts: readonly string[]): Promise<Record<string, ContextVersion[]>> {
  const all = parseListText(await get('/text/list'))
  return Object.fromEntries(
    contexts.map((c) => [c, versionsOf(all, c).map(({ version, status, sessions }) => ({ version, status, sessions }))]),
  )
}

/** Reads busy threads, versions and sessions from the manager application, as one snapshot. */
export class ManagerClient {
  constructor(private readonly settings: ManagerSettings) {}

  async read(signal?: AbortSignal): Promise<ManagerSignals> {
    const at = new Date().toISOString()
    let authorization: string
    try {
      authorization = await readCredentials(this.settings.credentialsFile)
    } catch (err) {
      return { ...NO_SIGNALS, at, error: (err as Error).message }
    }
    const get: Get = async (path) => {
      const answer = await httpGet(`${this.settings.url}${path}`, {
        timeoutMs: this.settings.timeoutMs,
        // The manager's text answers follow the request's language: ask for the English the parser reads.
        headers: { authorization, 'user-agent': USER_AGENT, 'accept-language': 'en' },
        maxBody: MAX_BODY,
        signal,
      })
      if (answer.status === 401 || answer.status === 403) {
        throw new Error(
          `GET ${path}: HTTP ${answer.status}: the manager refused the credentials (the user needs the manager-status and manager-script roles)`,
        )
      }
      if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status}`)
      return answer.body
    }
    const errors: string[] = []
    const attempt = async <T>(what: string, read: () => Promise<T>): Promise<T | null> => {
      try {
        return await read()
      } catch (err) {
        errors.push(`${what}${(err as Error).message}`)
        return null
      }
    }
    const busyThreads = await attempt('', () => readBusyThreads(get))
    const versions = await attempt('list: ', () => readVersions(get, this.settings.contexts))
    const sessions = await this.readSessions(get, versions, attempt)
    return { busyThreads, sessions, versions, at, error: errors.length > 0 ? errors.join('; ') : null }
  }

  /**
   * Sessions per context: from the list where it shows the context (with parallel deployment,
   * app##002 beside app##001, there is no unversioned name the sessions command knows), else
   * from the sessions command.
   */
  private async readSessions(
    get: Get,
    versions: Record<string, ContextVersion[]> | null,
    attempt: <T>(what: string, read: () => Promise<T>) => Promise<T | null>,
  ): Promise<Record<string, number> | null> {
    const sessions: Record<string, number> = {}
    for (const context of this.settings.contexts) {
      const listed = versions?.[context]
      const count =
        listed && listed.length > 0
          ? listed.reduce((sum, v) => sum + v.sessions, 0)
          : await attempt(`sessions of ${context}: `, async () =>
              parseSessionsText(await get(`/text/sessions?path=${encodeURIComponent(context)}`)),
            )
      if (count !== null) sessions[context] = count
    }
    return Object.keys(sessions).length > 0 ? sessions : null
  }
}
