/**
 * Reads the settings file the role writes (ansible/roles/tomcat_health_agent/templates/
 * health-agent.env.j2) the way systemd reads an EnvironmentFile of that form: KEY="VALUE" lines,
 * where a backslash before " \ $ or ` stands for that character; # lines are comments.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  text.split('\n').forEach((line, i) => {
    if (/^\s*(#|$)/.test(line)) return
    const match = /^([A-Z_][A-Z0-9_]*)="((?:[^"\\]|\\["\\$`])*)"$/.exec(line)
    if (!match) throw new Error(`settings file line ${i + 1}: expected KEY="VALUE", got ${JSON.stringify(line)}`)
    env[match[1] as string] = (match[2] as string).replace(/\\(["\\$`])/g, '$1')
  })
  return env
}
