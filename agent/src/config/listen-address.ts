export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH`. Port 0 asks the OS for a free port.
 * Returns null for anything else, so that callers decide how to report it.
 */
export function parseListenAddress(value: string): ListenAddress | null {
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length)
    return path.length > 0 ? { kind: 'unix', path } : null
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value)
  if (!match) return null
  const port = Number(match[3])
  if (port > 65535) return null
  return { kind: 'tcp', host: (match[1] ?? match[2]) as string, port }
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
