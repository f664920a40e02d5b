/**
 * @module Which `redirect_uri` a login may use: one of the registered URIs exactly, or a
 * loopback URI on any port (RFC 8252 §7.3), which is what a CLI binds for its one-shot listener.
 * A loopback URI must be spelled canonically (`http://127.0.0.1:<port>/callback`, the port in
 * decimal without leading zeros): what is stored with the login state and handed to the IdP is
 * then at most a few dozen characters, whatever the caller sends.
 */
import { invalidArgument } from '../../shared/errors.ts'

/** The longest `redirect_uri` considered at all (the contract's bound, kept here too). */
export const MAX_REDIRECT_URI_LENGTH = 2048

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])
const LOOPBACK_SHAPE = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::([0-9]+))?\/callback$/

export function checkRedirectUri(value: string, registered: readonly string[]): void {
  if (value.length > MAX_REDIRECT_URI_LENGTH) {
    throw invalidArgument('redirect_uri', `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`)
  }
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
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname) && url.pathname === '/callback') {
    const port = LOOPBACK_SHAPE.exec(value)?.[2]
    if (port !== undefined && !/^[1-9][0-9]{0,4}$/.test(port)) {
      throw invalidArgument('redirect_uri', 'port must be decimal from 1 to 65535 without leading zeros')
    }
    if (!LOOPBACK_SHAPE.test(value)) {
      throw invalidArgument('redirect_uri', 'must be spelled http://127.0.0.1:<port>/callback exactly')
    }
    return
  }
  throw invalidArgument(
    'redirect_uri',
    'is neither a registered redirect URI nor a loopback URI http://127.0.0.1:<port>/callback',
  )
}
