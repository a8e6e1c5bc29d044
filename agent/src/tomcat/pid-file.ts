import { readFile } from 'node:fs/promises'

/**
 * Which Tomcat process runs now, from its PID file (CATALINA_PID): the PID and, where /proc shows
 * it, the process's start time, so that a reused PID is still a new process. null when the file is
 * missing, empty or unreadable: that says nothing (the probe tells whether Tomcat serves).
 */
export async function readTomcatIdentity(pidFile: string): Promise<string | null> {
  let pid: string
  try {
    pid = (await readFile(pidFile, 'utf8')).trim()
  } catch {
    return null
  }
  if (!/^\d+$/.test(pid)) return null
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    return startTime ? `${pid}@${startTime}` : pid
  } catch {
    return pid
  }
}
