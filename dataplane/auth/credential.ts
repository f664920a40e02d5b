/**
 * @module Where an inference request carries its credential: `Authorization: Bearer <token>`
 * (what the OpenAI SDK sends) or `x-api-key: <token>` (what the Anthropic SDK sends), each with
 * or without the `ak-` prefix API keys are issued with.
 */
import { stripKeyPrefix, tokenFromAuthorization } from '../../shared/tokens/bearer.ts'
import { rawHeader, rawHeaderList } from '../proxy/headers.ts'

/** From the request's raw headers (`req.rawHeaders`): the header object is never built. */
export function credentialOf(rawHeaders: readonly string[]): string | undefined {
  const bearer = tokenFromAuthorization(rawHeader(rawHeaders, 'authorization'))
  if (bearer !== undefined) return bearer
  // Repeated, it is one invalid value (as node joins it), never the first of several.
  const apiKey = rawHeaderList(rawHeaders, 'x-api-key')
  if (apiKey === undefined) return undefined
  const token = stripKeyPrefix(apiKey.trim())
  return token || undefined
}
