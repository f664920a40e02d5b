/**
 * @module A second, independent OpenID provider for tests (`oidc-provider` on loopback, with its
 * development login form), to configure a control plane with `AGENTROUTER_OIDC_ISSUERS` the way
 * an operator would. The login typed into the form is the subject; `claims` decides what the
 * provider says about it (an unverified email, say).
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'

export interface TestIdp {
  issuer: string
  clientId: string
  clientSecret: string
  /** The `AGENTROUTER_OIDC_ISSUERS` entry for this provider. */
  entry(alias: string): Record<string, string>
  close(): Promise<void>
}

export type ClaimsFor = (login: string) => Record<string, unknown>

const defaultClaims: ClaimsFor = (login) => ({
  email: login,
  email_verified: true,
  name: login.split('@')[0],
})

export async function startTestIdp(claimsFor: ClaimsFor = defaultClaims): Promise<TestIdp> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clientId = 'test-control-plane'
  const clientSecret = randomBytes(18).toString('base64url')
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        application_type: 'native',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-idp' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, ...claimsFor(sub) }) }
    },
    async loadExistingGrant(ctx) {
      const { oidc } = ctx
      const grant = new oidc.provider.Grant({
        clientId: oidc.client!.clientId,
        accountId: oidc.session!.accountId!,
      })
      grant.addOIDCScope('openid email profile')
      await grant.save()
      return grant
    },
  })
  server.on('request', provider.callback())
  return {
    issuer,
    clientId,
    clientSecret,
    entry: (alias) => ({ alias, issuer, client_id: clientId, client_secret: clientSecret }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
