#!/usr/bin/env node
import { buildAgent, type Agent } from './app.js'
import { parseCommandLine, settingsHelp } from './config/args.js'
import { formatListenAddress, isLoopbackHost, parseListenAddress } from './config/listen-address.js'
import { loadConfig, type ResolvedConfig } from './config/load.js'
import { AgentError, isAgentError } from './errors.js'
import { listenOn } from './listen.js'
import { createLogger, type AgentLogger } from './logger.js'
import { PACKAGE_NAME, PACKAGE_VERSION } from './package-info.js'

const HELP = `Usage: health-agent [options]

Answers the load balancers' health check for one Tomcat: 200 ready, 404 drain, 500 down,
from the admin state in the state file (set it with agentctl, the admin API or a shell write).
Settings come from defaults, --config FILE, HEALTH_AGENT_* variables and flags, later winning.

Options:
${settingsHelp()}
  --help                          show this text
  --version                       print the version
`

async function run(argv: string[]): Promise<void> {
  const cli = parseCommandLine(argv, { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' }, config: { type: 'string' } })
  if (cli.options.help) {
    process.stdout.write(HELP)
    return
  }
  if (cli.options.version) {
    process.stdout.write(`${PACKAGE_VERSION}\n`)
    return
  }
  if (cli.positionals.length > 0) throw new AgentError('AGENT_ERR_CONFIG', `unexpected argument "${cli.positionals[0]}" (see --help)`)
  const config = loadConfig({ flags: cli.settings, configFile: cli.options.config as string | undefined })
  const log = await createLogger({ level: config.logLevel, file: config.logFile || undefined })
  const agent = buildAgent(config, log.logger)
  installSignalHandlers(agent, log)
  await agent.start()
  const health = await listenOn(agent.health, config.listen)
  const admin = await listenOn(agent.admin, config.adminListen)
  const agentCheck = agent.agentCheck ? await agent.agentCheck.listen(config.agentCheckListen) : null
  warnIfAdminExposed(config, log)
  log.logger.info(
    {
      version: PACKAGE_VERSION,
      health: formatListenAddress(health),
      admin: formatListenAddress(admin),
      agentCheck: agentCheck ? formatListenAddress(agentCheck) : null,
      checkPath: config.checkPath,
      stateFile: config.stateFile,
      auditFile: config.auditFile,
      tokenFile: config.tokenFile,
      configFile: config.configFile,
      state: agent.core.verdict().state,
    },
    `${PACKAGE_NAME} ${PACKAGE_VERSION}: health on ${formatListenAddress(health)}${config.checkPath}, admin on ${formatListenAddress(admin)}${agentCheck ? `, agent check on ${formatListenAddress(agentCheck)}` : ''}, state file ${config.stateFile}`,
  )
}

function warnIfAdminExposed(config: ResolvedConfig, log: AgentLogger): void {
  const address = parseListenAddress(config.adminListen)
  if (address?.kind === 'tcp' && !isLoopbackHost(address.host)) {
    log.logger.warn({ adminListen: config.adminListen }, 'admin listener is not on loopback: it is reachable from the network (token still required)')
  }
}

function installSignalHandlers(agent: Agent, log: AgentLogger): void {
  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    log.logger.info({ signal }, 'closing listeners')
    agent
      .close()
      .then(() => log.logger.info('stopped'))
      .catch((err: unknown) => {
        log.logger.error({ err }, 'error while closing')
        process.exitCode = 1
      })
      .finally(() => log.end())
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGHUP', () => {
    log.reopen()
    agent.core.reopenFiles()
    log.logger.info('reopened the log and audit files (SIGHUP)')
  })
}

run(process.argv.slice(2)).catch((err: unknown) => {
  if (isAgentError(err)) {
    process.stderr.write(`health-agent: ${err.message}\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`health-agent: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
  // Listeners may already be open; nothing else will close them.
  setImmediate(() => process.exit())
})
