/**
 * @module Login and callback: the public half of MeService.
 */
import { getConnInfo } from '@hono/node-server/conninfo'
import { formatMicros } from '../../../shared/time.ts'
import { clientScope } from '../../oidc/client-scope.ts'
import type { Services } from '../../services.ts'
import type { Router } from '../route.ts'
import { setSessionCookie } from '../session-cookie.ts'

export function loginRoutes(router: Router, s: Services): void {
  router.on('login', async ({ body, c }) => {
    const started = await s.login.start({
      issuer: body.issuer,
      redirectUri: body.redirect_uri,
      codeChallenge: body.code_challenge,
      // The socket's address: no proxy header is trusted (there is no trusted-proxy setting).
      client: clientScope(getConnInfo(c).remote.address),
    })
    return { authorization_url: started.authorizationUrl, state: started.state }
  })

  router.on('callback', async ({ body, c }) => {
    const { identity } = await s.login.finish({
      code: body.code,
      state: body.state,
      codeVerifier: body.code_verifier,
    })
    const session = await s.sessions.open(identity)
    setSessionCookie(c, session.token, session.expiresAt)
    return {
      session_token: session.token,
      expires_at: formatMicros(session.expiresAt),
      identity: await s.tenancy.view(identity),
    }
  })

  router.on('deviceLogin', async ({ body, c }) => {
    const started = await s.deviceLogin.start({
      issuer: body.issuer,
      client: clientScope(getConnInfo(c).remote.address),
    })
    return {
      device_handle: started.deviceHandle,
      user_code: started.userCode,
      verification_uri: started.verificationUri,
      ...(started.verificationUriComplete
        ? { verification_uri_complete: started.verificationUriComplete }
        : {}),
      interval: started.intervalSeconds,
      expires_in: started.expiresInSeconds,
    }
  })

  router.on('devicePoll', async ({ body, c }) => {
    const polled = await s.deviceLogin.poll(body.device_handle)
    if (polled.status !== 'complete') return { status: polled.status, interval: polled.intervalSeconds }
    const session = await s.sessions.open(polled.identity)
    setSessionCookie(c, session.token, session.expiresAt)
    return {
      status: polled.status,
      session_token: session.token,
      expires_at: formatMicros(session.expiresAt),
      identity: await s.tenancy.view(polled.identity),
    }
  })
}
