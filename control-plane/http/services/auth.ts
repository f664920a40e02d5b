/**
 * @module AuthService routes: the JWKS.
 */
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'

export function authRoutes(router: Router, s: Services): void {
  router.on('getJwks', ({ c }) => {
    c.header('cache-control', `public, max-age=${s.config.tokens.jwksMaxAgeSec}`)
    return { keys: s.keyRing.publishedKeys() }
  })
}
