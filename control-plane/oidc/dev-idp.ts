/**
 * @module The development identity provider: a real OpenID provider (`oidc-provider`) on
 * loopback, with its development login form (any login, any password). `npm start` runs it when
 * no issuer is configured, so the whole login flow works out of the box; tests use it the same
 * way. Never for production: it accepts every password.
 *
 * The login is taken as the subject and, when it looks like an email, as the email. Consent is
 * granted automatically: the control plane is this provider's only, first-party client. The
 * device authorization flow (RFC 8628) is on, so `tare api login --device` works out of the box.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider, { type KoaContextWithOIDC } from 'oidc-provider'
import type { ListenAddress } from '../../shared/config.ts'

export interface DevIdp {
  issuer: string
  clientId: string
  clientSecret: string
  close(): Promise<void>
}

export const DEV_CLIENT_ID = 'agentrouter-control-plane'
const SCOPES = 'openid email profile'

/** Loopback redirect URIs are matched on path with any port (RFC 8252 §7.3) for native clients. */
const LOOPBACK_REDIRECTS = ['http://127.0.0.1/callback', 'http://localhost/callback', 'http://[::1]/callback']

/**
 * Starts the provider on `listen`. Its issuer is `publicUrl` when given (in a container it
 * listens on 0.0.0.0, but browsers and the control plane reach it as http://127.0.0.1:<port>),
 * else the address it listens on.
 */
export async function startDevIdp(
  listen: ListenAddress,
  extraRedirectUris: readonly string[] = [],
  publicUrl?: string,
): Promise<DevIdp> {
  const server: Server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host
  const issuer = publicUrl ?? `http://${host}:${port}`
  const clientSecret = randomBytes(24).toString('base64url')
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: DEV_CLIENT_ID,
        client_secret: clientSecret,
        application_type: 'native',
        redirect_uris: [...LOOPBACK_REDIRECTS, ...extraRedirectUris],
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'dev-idp' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
    // Put the email and name into the ID token itself, as most hosted providers do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_ctx: KoaContextWithOIDC, sub: string) {
      return {
        accountId: sub,
        async claims() {
          const email = sub.includes('@') ? sub : `${sub}@dev.agentrouter.invalid`
          return { sub, email, email_verified: true, name: sub.split('@')[0] }
        },
      }
    },
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { oidc } = ctx
      const grantId = oidc.result?.consent?.grantId ?? oidc.session!.grantIdFor(oidc.client!.clientId)
      if (grantId) return oidc.provider.Grant.find(grantId)
      const grant = new oidc.provider.Grant({
        clientId: oidc.client!.clientId,
        accountId: oidc.session!.accountId!,
      })
      grant.addOIDCScope(SCOPES)
      await grant.save()
      return grant
    },
  })
  server.on('request', provider.callback())

  return {
    issuer,
    clientId: DEV_CLIENT_ID,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
