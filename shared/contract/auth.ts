/**
 * @module AuthService (agentrouter.auth.v1): the public keys that verify every token.
 */
import { z } from 'zod'

export const Jwk = z
  .object({
    kty: z.string(),
    kid: z.string(),
    alg: z.string(),
    use: z.literal('sig'),
  })
  .passthrough()

export const JwksResponse = z.object({ keys: z.array(Jwk) })
export type JwksResponse = z.infer<typeof JwksResponse>
