import { join } from 'node:path'
import { httpRequest } from './http.js'
import { writeWebapp } from './tomcat.js'
import { writeWar } from './war.js'

/**
 * A web app for Tomcat's parallel deployment: each version says its name and counts the requests
 * of a session, so a user whose count starts over has lost the session.
 */

const COUNTER_JSP = (version: string) =>
  `<%@ page trimDirectiveWhitespaces="true" %><%
Integer n = (Integer) session.getAttribute("n");
n = n == null ? 1 : n + 1;
session.setAttribute("n", n);
%>version=${version} count=<%= n %>
`

export interface AppOptions {
  /** A listener class that does not exist: the version fails to start. */
  broken?: boolean
  /** No version.txt (the warm-up URL): the version starts but fails its warm-up. */
  cold?: boolean
}

const suffix = (options: AppOptions) => `${options.broken ? '-broken' : ''}${options.cold ? '-cold' : ''}`

/** Writes version `version` of the app as a folder under `dir`. */
export function writeVersionedApp(dir: string, version: string, options: AppOptions = {}): string {
  const files: Record<string, string> = {
    'health.txt': 'UP\n',
    ...(options.cold ? {} : { 'version.txt': `${version}\n` }),
    'counter.jsp': COUNTER_JSP(version),
    'logout.jsp': '<%@ page trimDirectiveWhitespaces="true" %><% session.invalidate(); %>bye\n',
  }
  if (options.broken) {
    files['WEB-INF/web.xml'] =
      '<?xml version="1.0" encoding="UTF-8"?>\n<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0">\n' +
      '  <listener><listener-class>no.such.StartupListener</listener-class></listener>\n</web-app>\n'
  }
  return writeWebapp(join(dir, `app-${version}${suffix(options)}`), files)
}

/** The same app packed as a WAR. */
export function writeVersionedWar(dir: string, version: string, options: AppOptions = {}): string {
  return writeWar(writeVersionedApp(dir, version, options), join(dir, `app-${version}${suffix(options)}.war`))
}

/** A user with a cookie jar of one cookie (Tomcat's JSESSIONID), as a browser keeps it. */
export class StickyUser {
  private cookie: string | null = null

  /** GETs `url` with the jar's cookie; keeps what Set-Cookie gives. */
  async get(url: string): Promise<{ status: number; body: string }> {
    const res = await httpRequest(url, { headers: this.cookie ? { cookie: this.cookie } : {} })
    const set = res.headers['set-cookie']
    for (const line of Array.isArray(set) ? set : set ? [set] : []) this.cookie = line.split(';')[0] ?? this.cookie
    return { status: res.status, body: res.body }
  }

  /** `version=V count=N` of a counter answer. */
  static parse(body: string): { version: string; count: number } | null {
    const match = /version=(\S+) count=(\d+)/.exec(body)
    return match ? { version: match[1] as string, count: Number(match[2]) } : null
  }
}
