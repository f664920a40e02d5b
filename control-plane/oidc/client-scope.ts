/**
 * @module Which client a login start counts against: the socket's remote address, with an IPv4
 * address mapped into IPv6 read as IPv4, and an IPv6 address counted by its /64 (one host
 * commonly holds a whole /64, so a per-address cap on IPv6 would cap nothing). No proxy header is
 * read: the control plane has no trusted-proxy setting, so behind a reverse proxy every login
 * counts against the proxy's address.
 */
import { isIPv4, isIPv6 } from 'node:net'

export function clientScope(address: string | undefined): string {
  if (!address) return 'unknown'
  const bare = address.split('%')[0]!
  if (isIPv4(bare)) return bare
  if (!isIPv6(bare)) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1]
  if (mapped && isIPv4(mapped)) return mapped
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const [head, tail] = address.toLowerCase().split('::') as [string, string | undefined]
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const left = groups(head)
  const right = groups(tail)
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const last = right.length > 0 ? right : left
  const v4 = last.at(-1)
  if (v4?.includes('.')) {
    const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number]
    last.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16))
  }
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((g) => Number.parseInt(g, 16).toString(16))
}
