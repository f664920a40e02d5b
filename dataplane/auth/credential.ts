/**
 * @module Where an inference request carries its credential: `Authorization: Bearer <token>`
 * (what the OpenAI SDK sends) or `x-api-key: <token>` (what the Anthropic SDK sends), each with
 * or without the `ak-` prefix API keys are issued with.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { stripKeyPrefix, tokenFromAuthorization } from '../../shared/tokens/bearer.ts'

export function credentialOf(headers: IncomingHttpHeaders): string | undefined {
  const bearer = tokenFromAuthorization(headers.authorization)
  if (bearer !== undefined) return bearer
  const apiKey = headers['x-api-key']
  if (typeof apiKey !== 'string') return undefined
  const token = stripKeyPrefix(apiKey.trim())
  return token || undefined
}
