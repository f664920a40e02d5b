/**
 * @module Which headers cross the proxy. Upstream: the client's headers minus its credential
 * (`authorization`, `x-api-key`, `cookie`), hop-by-hop headers (RFC 9110 §7.6.1, plus any the
 * `Connection` header names) and framing the proxy sets itself; then the provider key. Back to
 * the client: the upstream's headers minus hop-by-hop ones (and those its own `Connection`
 * header names). Both work on flat `[name, value, …]` arrays, the form node and undici already
 * use, so nothing is rebuilt as an object.
 */

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]

/** Never forwarded upstream. */
const DROP_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  // The caller's credential for this gateway: never the provider's.
  'authorization',
  'x-api-key',
  'cookie',
  // Set by the proxy: the body is buffered, so its length is known and nothing waits to continue.
  'host',
  'content-length',
  'expect',
])

const DROP_DOWNSTREAM = new Set(HOP_BY_HOP)

/**
 * The upstream request's headers from the client's raw headers; `extraDrop` names further
 * headers to leave out (those the `Connection` header lists, trace headers being replaced).
 */
export function upstreamHeaders(
  rawHeaders: readonly string[],
  credentialHeader: string,
  credentialValue: string,
  contentLength: number,
  extraDrop: ReadonlySet<string> | undefined,
): string[] {
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    if (DROP_UPSTREAM.has(name) || extraDrop?.has(name)) continue
    out.push(name, rawHeaders[i + 1]!)
  }
  out.push(credentialHeader, credentialValue)
  if (contentLength > 0) out.push('content-length', String(contentLength))
  return out
}

/** The header names a `Connection` header lists, which are hop-by-hop too. */
export function connectionListed(connection: string | undefined): Set<string> | undefined {
  // Nearly every request says just one of these: no list to parse.
  if (!connection || connection === 'keep-alive' || connection === 'close') return undefined
  const names = new Set<string>()
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase()
    if (name && name !== 'close' && name !== 'keep-alive') names.add(name)
  }
  return names.size ? names : undefined
}

/** The client response's headers from the upstream's raw headers. */
export function downstreamHeaders(rawHeaders: readonly Buffer[]): string[] {
  const out: string[] = []
  let connection: string | undefined
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1')
    const lower = name.toLowerCase()
    if (lower === 'connection') {
      const value = rawHeaders[i + 1]!.toString('latin1')
      connection = connection === undefined ? value : `${connection},${value}`
    }
    if (DROP_DOWNSTREAM.has(lower)) continue
    out.push(name, rawHeaders[i + 1]!.toString('latin1'))
  }
  const listed = connectionListed(connection)
  return listed ? withoutListed(out, listed) : out
}

function withoutListed(flat: readonly string[], listed: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (let i = 0; i < flat.length; i += 2) {
    if (!listed.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!)
  }
  return out
}

export function hasContentLength(flat: readonly string[]): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i]!.toLowerCase() === 'content-length') return true
  return false
}
