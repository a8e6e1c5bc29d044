import { readFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The folder of this package (where package.json is), found from this module's own location so
 * that the agent and agentctl agree on default paths whatever the working directory is, both from
 * the compiled dist/ and from the TypeScript sources the tests run.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`package.json not found above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

export const PACKAGE_ROOT = findPackageRoot()

const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string; version: string }

export const PACKAGE_NAME = pkg.name
export const PACKAGE_VERSION = pkg.version
