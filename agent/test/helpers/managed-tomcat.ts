import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { Tomcat } from './tomcat.js'

/** Debian's tomcat10-admin: the manager application. */
export const MANAGER_APP = '/usr/share/tomcat10-admin/manager'

export interface ManagerUser {
  name: string
  password: string
  roles: string[]
}

export interface ManagedTomcat {
  tomcat: Tomcat
  /** Per user, a credentials file (`user:password`, 0600) as agentctl and the agent read it. */
  credentials: Record<string, string>
}

/**
 * A real Tomcat 10 with the manager application at /manager, `users` in its realm, and `apps`
 * (context path, such as `/app##001`, to a folder) deployed, started and serving `readyPath`.
 */
export async function startManagedTomcat(
  t: Test,
  dir: string,
  options: { name: string; users: ManagerUser[]; apps: Record<string, string>; readyPath: string },
): Promise<ManagedTomcat> {
  if (!existsSync(MANAGER_APP)) throw new Error(`${MANAGER_APP} is missing: install tomcat10-admin (sudo scripts/install-system-deps.sh)`)
  const tomcat = await Tomcat.create(t, { name: options.name, users: options.users })
  tomcat.deployDir('/manager', MANAGER_APP)
  for (const [path, folder] of Object.entries(options.apps)) tomcat.deployDir(path, folder)
  await tomcat.start()
  await tomcat.waitUntilServing(options.readyPath)
  const credentials: Record<string, string> = {}
  for (const user of options.users) {
    credentials[user.name] = join(dir, `${user.name}-credentials`)
    writeFileSync(credentials[user.name] as string, `${user.name}:${user.password}\n`, { mode: 0o600 })
  }
  return { tomcat, credentials }
}

/** The agent's settings for watching `tomcat` through its manager as `credentials`, at fast timers (200 ms). */
export function managerFlags(tomcat: Tomcat, credentials: string): Record<string, string> {
  return {
    tomcatUrl: tomcat.url('/app/health.txt'),
    tomcatIntervalMs: '200',
    tomcatManagerUrl: tomcat.url('/manager'),
    tomcatManagerCredentialsFile: credentials,
    tomcatManagerPollMs: '200',
  }
}
