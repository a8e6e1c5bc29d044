// Bundles the two commands, each into one ES module with its dependencies, into dist/bin/.
// Loading one file instead of some 500 modules halves the agent's start-up time and saves
// about 20 MiB of memory; agentctl runs several times per host in a rolling deploy.
// With --standalone, bundles both commands into one CommonJS script for the single executable
// (packaging/sea/build.mjs): Node's SEA runs a CommonJS main that can load nothing from disk.
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { URL } from 'node:url'
import { build } from 'esbuild'

const { name, version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const standalone = process.argv.includes('--standalone')
// The version is baked in: a bundle must not read whichever package.json lies above it.
const define = { __TOMCAT_HEALTH_AGENT_BUILD__: JSON.stringify({ name, version, standalone }) }

const common = { bundle: true, platform: 'node', define, logLevel: 'warning' }

if (standalone) {
  await build({
    ...common,
    entryPoints: ['agent/src/standalone.ts'],
    outfile: 'dist/sea/tomcat-health-agent.cjs',
    format: 'cjs',
    target: 'node24',
    // The sources' import.meta.url is only read outside the single executable (package-info.ts).
    define: { ...define, 'import.meta.url': 'undefined' },
  })
} else {
  await build({
    ...common,
    entryPoints: { 'health-agent': 'agent/src/main.ts', agentctl: 'agent/src/cli/agentctl.ts' },
    outdir: 'dist/bin',
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    // Only loaded on a terminal, from node_modules: pretty logs are not worth their weight in the bundle.
    external: ['pino-pretty'],
    // Bundled CommonJS dependencies call require(): give them one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  })
}
