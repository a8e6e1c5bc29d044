import { join } from 'node:path'
import { DEVELOPMENT_CHECKOUT } from '../package-info.js'

/** Where the agent and every command that looks for it (agentctl, the deploy scripts) find its settings. */
export interface InstallPaths {
  /** Config files tried in order when neither --config nor HEALTH_AGENT_CONFIG names one; the first that exists is read. */
  configFiles: readonly string[]
  /** HEALTH_AGENT_*=VALUE lines, the unit's EnvironmentFile: read here too, so that agentctl run by root sees what the agent sees. */
  envFile: string | null
  dataDir: string
}

export const SYSTEM_PATHS: InstallPaths = Object.freeze({
  configFiles: Object.freeze(['/etc/tomcat-health-agent/config.yaml', '/etc/tomcat-health-agent/config.json']),
  envFile: '/etc/default/tomcat-health-agent',
  dataDir: '/var/lib/tomcat-health-agent',
})

/** A development checkout is self-contained: its var/, and nothing read from /etc. */
export function checkoutPaths(root: string): InstallPaths {
  return { configFiles: [], envFile: null, dataDir: join(root, 'var') }
}

export function defaultInstallPaths(): InstallPaths {
  return DEVELOPMENT_CHECKOUT ? checkoutPaths(DEVELOPMENT_CHECKOUT) : SYSTEM_PATHS
}
