import { basename } from 'node:path'
import { VERSION_LINE } from './package-info.js'

/**
 * Entry point of the single executable, which is both commands: by the name it is called by
 * (`health-agent`, `agentctl`, as links to it) or by its first argument
 * (`tomcat-health-agent agentctl drain`).
 */
const USAGE = `Usage: tomcat-health-agent health-agent [options]   the agent (also: called as health-agent)
       tomcat-health-agent agentctl <command> ...    its admin client (also: called as agentctl)
       tomcat-health-agent --version
`

const COMMANDS: Record<string, () => Promise<unknown>> = {
  'health-agent': () => import('./main.js'),
  agentctl: () => import('./cli/agentctl.js'),
}

function choose(): (() => Promise<unknown>) | string {
  const byName = COMMANDS[basename(process.argv0)]
  if (byName) return byName
  const [first] = process.argv.slice(2)
  const bySubcommand = first === undefined ? undefined : COMMANDS[first]
  if (bySubcommand) {
    // The command reads its arguments from process.argv after the program's name.
    process.argv.splice(2, 1)
    return bySubcommand
  }
  if (first === '--version') return `${VERSION_LINE}\n`
  if (first === '--help' || first === '-h') return USAGE
  process.stderr.write(`tomcat-health-agent: ${first === undefined ? 'missing command' : `unknown command "${first}"`}\n${USAGE}`)
  process.exitCode = 2
  return ''
}

const chosen = choose()
if (typeof chosen === 'string') process.stdout.write(chosen)
else void chosen()
