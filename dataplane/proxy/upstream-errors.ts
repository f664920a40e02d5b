/**
 * @module What an upstream failure means to the caller, by undici's and node's error codes:
 * a timeout is `deadline_exceeded`, anything that kept a response from arriving (refused,
 * reset, unresolvable, closed) is `unavailable`.
 */
import { ApiError } from '../../shared/errors.ts'

const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export function upstreamError(err: unknown, provider: string): ApiError {
  const code = (err as { code?: unknown })?.code
  const label = typeof code === 'string' ? code : 'error'
  if (typeof code === 'string' && TIMEOUTS.has(code)) {
    return new ApiError(
      'deadline_exceeded',
      `the ${provider} upstream did not answer in time (${label}); retry shortly`,
      [{ description: label, provider }],
    )
  }
  return new ApiError(
    'unavailable',
    `the ${provider} upstream could not be reached (${label}); retry shortly`,
    [{ description: label, provider }],
  )
}
