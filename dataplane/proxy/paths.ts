/**
 * @module Which request paths reach a provider. Two checks, on the path as the client sent it
 * (the query is not looked at):
 *
 * - **No way out of the API prefix, in any spelling.** Rather than decode and normalise (and
 *   then guess how the upstream, or anything in front of it, decodes again), every spelling that
 *   could become a separator or a dot segment is refused outright (`invalid_argument`): a segment
 *   starting with `.` (`.`, `..`, `..;`), a backslash, a percent-escape of `.`, `/`, `\` or `%`
 *   itself (so `%2e`, `%2F`, `%5c`, `%252f` in any case), any percent-escape outside printable
 *   ASCII (overlong UTF-8 spellings such as `%c0%ae`, control characters) or a malformed one, and
 *   any raw byte outside printable ASCII. What passes is already in normal form: nothing left
 *   in it can decode to a separator or a dot segment, so it is forwarded exactly as received.
 * - **Only the provider's inference API.** The path after `/v1/` must be one of the allowed
 *   prefixes or lie below one (`files` allows `files/{id}/content`, not `filesystem`); the
 *   prefixes are grouped once by first character, so a request tries two at most (by default).
 *   A path outside every prefix is `permission_denied`, naming it. The operator adds prefixes
 *   with `AGENTROUTER_DP_EXTRA_PATHS`.
 *
 * Both run on every request: one pass over the path's characters and a `startsWith` or two,
 * with no allocation.
 */
import type { Provider } from '../../shared/contract/aikeys.ts'
import { ApiError } from '../../shared/errors.ts'

/** An operator-allowed prefix (`AGENTROUTER_DP_EXTRA_PATHS`). */
export interface ExtraPath {
  provider: Provider
  /** Segments under `/v1/`, `/`-separated, no leading or trailing slash. */
  prefix: string
}

/** The longest path an error message repeats. */
const ECHO_LIMIT = 256

const SLASH = 0x2f
const DOT = 0x2e
const BACKSLASH = 0x5c
const PERCENT = 0x25

export class ApiPaths {
  readonly #provider: Provider
  /** The allowed prefixes by their first character's code (ASCII): a handful to try at most. */
  readonly #byFirstChar: Array<string[] | undefined> = []
  readonly #listed: string

  constructor(provider: Provider, prefixes: readonly string[]) {
    this.#provider = provider
    for (const prefix of new Set(prefixes)) {
      const c = prefix.charCodeAt(0)
      const list = this.#byFirstChar[c]
      if (list) list.push(prefix)
      else this.#byFirstChar[c] = [prefix]
    }
    this.#listed = [...new Set(prefixes)].join(', ')
  }

  /**
   * Why the request URL (path and query, as received) must not be forwarded, or `undefined`
   * when it may. `strip` is the route's prefix length: the path from there starts `/v1/`.
   */
  refusal(url: string, strip: number): ApiError | undefined {
    let end = url.indexOf('?', strip)
    if (end < 0) end = url.length
    if (!inNormalForm(url, strip, end)) {
      const path = echo(url, end)
      return new ApiError(
        'invalid_argument',
        `path ${path}: dot segments, backslashes and percent-escapes of '.', '/', '\\' or '%' are not forwarded: send the path in its plain form`,
        [{ field: 'path', description: 'could leave the provider’s API prefix', path }],
      )
    }
    const start = strip + 4 // after `/v1/`
    const candidates = start < end ? this.#byFirstChar[url.charCodeAt(start)] : undefined
    if (candidates !== undefined) {
      for (const prefix of candidates) {
        const after = start + prefix.length
        if (
          after <= end &&
          url.startsWith(prefix, start) &&
          (after === end || url.charCodeAt(after) === SLASH)
        ) {
          return undefined
        }
      }
    }
    const path = echo(url, end)
    return new ApiError(
      'permission_denied',
      `path ${path}: not part of the ${this.#provider} inference API this dataplane forwards ` +
        `(${this.#listed} under /v1/; the operator adds more with AGENTROUTER_DP_EXTRA_PATHS)`,
      [{ field: 'path', description: `forwarded under /v1/: ${this.#listed}`, path }],
    )
  }
}

/**
 * True when `url[from, end)` holds nothing that is, or could decode to, a separator or a dot
 * segment (see the module comment for the rule).
 */
function inNormalForm(url: string, from: number, end: number): boolean {
  for (let i = from; i < end; i++) {
    const c = url.charCodeAt(i)
    if (c <= 0x20 || c >= 0x7f || c === BACKSLASH) return false
    if (c === SLASH) {
      if (i + 1 < end && url.charCodeAt(i + 1) === DOT) return false
    } else if (c === PERCENT) {
      if (i + 2 >= end) return false
      const hi = url.charCodeAt(i + 1)
      const raw = url.charCodeAt(i + 2)
      const lo = raw >= 0x41 && raw <= 0x46 ? raw + 0x20 : raw // A–F in lower case
      const loHex = (lo >= 0x30 && lo <= 0x39) || (lo >= 0x61 && lo <= 0x66)
      // Printable ASCII only: %20–%7e.
      if (hi < 0x32 || hi > 0x37 || !loHex || (hi === 0x37 && lo === 0x66)) return false
      // %25 (%), %2e (.), %2f (/), %5c (\)
      if (hi === 0x32 && (lo === 0x35 || lo === 0x65 || lo === 0x66)) return false
      if (hi === 0x35 && lo === 0x63) return false
      i += 2
    }
  }
  return true
}

function echo(url: string, end: number): string {
  return end > ECHO_LIMIT ? `${url.slice(0, ECHO_LIMIT)}…` : url.slice(0, end)
}
