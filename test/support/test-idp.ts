/**
 * @module A second, independent OpenID provider for tests (`oidc-provider` on loopback, with its
 * development login form), to configure a control plane with `AGENTROUTER_OIDC_ISSUERS` the way
 * an operator would. The login typed into the form is the subject; `claims` decides what the
 * provider says about it (an unverified email, say). `deviceFlow` turns on its device
 * authorization endpoint; `requests` records what reached it (method and path).
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
  /** `METHOD /path` of every request the provider received, oldest first. */
  requests: string[]
  /** While true, the device authorization endpoint answers 503 (the provider is failing). */
  deviceDown: boolean
  close(): Promise<void>
}

export type ClaimsFor = (login: string) => Record<string, unknown>

const defaultClaims: ClaimsFor = (login) => ({
  email: login,
  email_verified: true,
  name: login.split('@')[0],
})

export interface TestIdpOptions {
  /** Serve RFC 8628 device authorization (off: the provider advertises no such endpoint). */
  deviceFlow?: boolean
}

export async function startTestIdp(
  claimsFor: ClaimsFor = defaultClaims,
  options: TestIdpOptions = {},
): Promise<TestIdp> {
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
        grant_types: options.deviceFlow
          ? ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code']
          : ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test-idp' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: options.deviceFlow === true } },
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
  const requests: string[] = []
  const callback = provider.callback()
  server.on('request', (req, res) => {
    const line = `${req.method} ${new URL(req.url ?? '/', issuer).pathname}`
    requests.push(line)
    if (idp.deviceDown && line === 'POST /device/auth') {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end('{"error":"temporarily_unavailable"}')
      return
    }
    callback(req, res)
  })
  const idp: TestIdp = {
    issuer,
    clientId,
    clientSecret,
    entry: (alias) => ({ alias, issuer, client_id: clientId, client_secret: clientSecret }),
    requests,
    deviceDown: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return idp
}
