import { readFile } from 'node:fs/promises'
import { PACKAGE_NAME, PACKAGE_VERSION } from '../package-info.js'
import { readCredentials } from './manager.js'
import { parseListText, type DeployedVersion } from './versions.js'

const USER_AGENT = `${PACKAGE_NAME}/${PACKAGE_VERSION} (manager)`

/** A refusal or failure of the manager's text API, with its own one-line answer. */
export class ManagerError extends Error {
  override name = 'ManagerError'
}

/**
 * The manager application's text API (`/manager/text/...`), which needs a user with the
 * `manager-script` role only: list the deployed versions, deploy a WAR as a new version beside
 * the running one, undeploy a version. Every answer starts with `OK - ` or `FAIL - `.
 */
export class ManagerTextClient {
  constructor(private readonly options: { url: string; credentialsFile: string; timeoutMs: number }) {}

  async list(): Promise<DeployedVersion[]> {
    return parseListText(await this.call('GET', '/text/list'))
  }

  /** Uploads the WAR as `path##version`; Tomcat starts it beside the running versions, without a restart. */
  async deploy(path: string, version: string, war: string): Promise<string> {
    let body: Buffer
    try {
      body = await readFile(war)
    } catch (err) {
      throw new ManagerError(`cannot read the WAR ${war}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
    return this.call('PUT', `/text/deploy?${new URLSearchParams({ path, version })}`, body)
  }

  async undeploy(path: string, version: string): Promise<string> {
    return this.call('GET', `/text/undeploy?${new URLSearchParams({ path, version })}`)
  }

  private async call(method: 'GET' | 'PUT', path: string, body?: Buffer): Promise<string> {
    let authorization: string
    try {
      authorization = await readCredentials(this.options.credentialsFile)
    } catch (err) {
      throw new ManagerError((err as Error).message)
    }
    let answer: Response
    try {
      answer = await fetch(`${this.options.url}${path}`, {
        method,
        body,
        // The manager's text answers follow the request's language: ask for the English parsed here.
        headers: { authorization, 'user-agent': USER_AGENT, 'accept-language': 'en' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      })
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
      throw new ManagerError(`${method} ${this.options.url}${path.split('?')[0]}: ${cause}`)
    }
    const text = (await answer.text()).trim()
    if (answer.status === 401 || answer.status === 403) {
      throw new ManagerError(`the manager refused the credentials (HTTP ${answer.status}): the user needs the manager-script role`)
    }
    if (answer.status !== 200) throw new ManagerError(`${method} ${path.split('?')[0]}: HTTP ${answer.status}`)
    const first = text.split(/\r?\n/)[0] ?? ''
    if (!first.startsWith('OK')) throw new ManagerError(`the manager answered: ${first.slice(0, 300) || '(nothing)'}`)
    return text
  }
}
