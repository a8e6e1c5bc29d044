import { BlockList, isIP } from 'node:net'
import { parseCidr } from '../config/cidr.js'
import type { ListenAddress } from '../config/listen-address.js'

/**
 * Which source addresses may count as load balancers (`--lb-sources`). The health listener must
 * be reachable by the load balancers, so anyone who can reach it could otherwise speak for one:
 * a check from outside these networks still gets its answer, but its view is not kept.
 */

/** A test for a normalised source address (lb/views.ts); null when every source may count. */
export type SourceFilter = (address: string) => boolean

export function sourceFilter(cidrs: readonly string[]): SourceFilter | null {
  if (cidrs.length === 0) return null
  const list = new BlockList()
  for (const text of cidrs) {
    const cidr = parseCidr(text)
    // The schema has validated every entry already.
    if (!cidr) throw new Error(`not a CIDR: ${text}`)
    list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  }
  return (address) => {
    const version = isIP(address)
    return version !== 0 && list.check(address, version === 4 ? 'ipv4' : 'ipv6')
  }
}

/** Whether the health listener takes checks from any address: then anyone there can speak for a load balancer. */
export function listensOnWildcard(address: ListenAddress): boolean {
  return address.kind === 'tcp' && (address.host === '0.0.0.0' || address.host === '::' || address.host === '*')
}
