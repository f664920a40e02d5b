/**
 * @module Which `redirect_uri` a login may use: one of the registered URIs exactly, or a
 * loopback URI on any port (RFC 8252 §7.3), which is what a CLI binds for its one-shot listener.
 */
import { invalidArgument } from '../../shared/errors.ts'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

export function checkRedirectUri(value: string, registered: readonly string[]): void {
  if (registered.includes(value)) return
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalidArgument('redirect_uri', 'is not a URL')
  }
  if (url.search || url.hash || url.username || url.password) {
    throw invalidArgument('redirect_uri', 'must not carry a query, fragment or user info')
  }
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && url.pathname === '/callback') return
  throw invalidArgument(
    'redirect_uri',
    'is neither a registered redirect URI nor a loopback URI http://127.0.0.1:<port>/callback',
  )
}
