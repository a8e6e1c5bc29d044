import { readFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What scripts/bundle.mjs bakes into a bundle (esbuild `define`); absent when the sources run. */
interface BuildInfo {
  name: string
  version: string
  /** The single executable: it has no package folder, and a package.json above it is someone else's. */
  standalone: boolean
}
declare const __TOMCAT_HEALTH_AGENT_BUILD__: BuildInfo | undefined
const BUILD: BuildInfo | undefined = typeof __TOMCAT_HEALTH_AGENT_BUILD__ === 'undefined' ? undefined : __TOMCAT_HEALTH_AGENT_BUILD__

/**
 * The folder of this package (where package.json is), found from this module's own location so
 * that the agent and agentctl agree on default paths whatever the working directory is, both from
 * the bundle in dist/ and from the TypeScript sources the tests run.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) {
      // A bundle knows its version and needs no folder; the sources do.
      if (BUILD) return ''
      throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`)
    }
    dir = parent
  }
}

/** The package folder; '' in the single executable or a bundle copied out of its package. */
export const PACKAGE_ROOT: string = BUILD?.standalone ? '' : findPackageRoot()

/**
 * A source tree (a git checkout, or an unpacked source tarball: agent/src is there, not .git)
 * keeps its state in its own var/; anything installed (the npm package, which ships no sources,
 * the .deb, the binary, the image) uses the system's paths, so that an upgrade does not lose the state.
 */
export const DEVELOPMENT_CHECKOUT: string | null = PACKAGE_ROOT && existsSync(join(PACKAGE_ROOT, 'agent/src')) ? PACKAGE_ROOT : null

const pkg: { name: string; version: string } =
  BUILD ?? (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string; version: string })

export const PACKAGE_NAME = pkg.name
export const PACKAGE_VERSION = pkg.version
/** For --version: the agent's version and the runtime's, which the single executable carries. */
export const VERSION_LINE = `${PACKAGE_NAME} ${PACKAGE_VERSION} (node ${process.version}${BUILD?.standalone ? ', single executable' : ''})`
