/**
 * @module OIDC login, the control plane as the client: authorization code with PKCE (S256 only).
 * `start` checks the redirect URI, stores a single-use, expiring `state` with its nonce and the
 * caller's code challenge, and answers with the provider's authorization URL. Starting needs no
 * credential, so the states pending at once are capped per client and overall: past a cap,
 * `resource_exhausted` with the seconds until the scope's oldest pending state expires. `finish` takes the
 * state back (once), checks the verifier against the stored challenge, redeems the code, checks
 * the ID token (issuer, audience, nonce, signature: `openid-client`), and finds or provisions
 * the identity.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import * as oidc from 'openid-client'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { isText, stripNonText } from '../../shared/text.ts'
import { nowMicros } from '../../shared/time.ts'
import type { OidcIssuerConfig } from '../config.ts'
import type { Identities } from '../identity/identities.ts'
import type { LoginStateStore, PendingCaps } from '../store/login-states.ts'
import type { IdentityRow } from '../store/tenancy.ts'
import { checkRedirectUri } from './redirect-uri.ts'

export interface LoginStart {
  issuer?: string | undefined
  redirectUri: string
  codeChallenge: string
  /** Who is starting it (`clientScope` of the remote address), for the per-client cap. */
  client: string
}

export interface LoginFinish {
  code: string
  state: string
  codeVerifier: string
}

export interface OidcLoginOptions {
  issuers: OidcIssuerConfig[]
  redirectUris: readonly string[]
  stateTtlMs: number
  pending: PendingCaps
}

export class OidcLogin {
  readonly #issuers: Map<string, OidcIssuerConfig>
  readonly #defaultAlias: string
  readonly #discovered = new Map<string, Promise<oidc.Configuration>>()

  constructor(
    private readonly options: OidcLoginOptions,
    private readonly states: LoginStateStore,
    private readonly identities: Identities,
    private readonly log: Logger,
  ) {
    if (options.issuers.length === 0) throw new Error('at least one OIDC issuer is required')
    this.#issuers = new Map(options.issuers.map((i) => [i.alias, i]))
    this.#defaultAlias = options.issuers[0]!.alias
  }

  async start(request: LoginStart): Promise<{ authorizationUrl: string; state: string }> {
    const alias = this.#alias(request.issuer)
    checkRedirectUri(request.redirectUri, this.options.redirectUris)
    const { config } = await this.issuer(alias)
    const state = randomBytes(24).toString('base64url')
    const nonce = randomBytes(24).toString('base64url')
    const now = nowMicros()
    const outcome = await this.states.insertWithinCaps(
      {
        state,
        issuer_alias: alias,
        redirect_uri: request.redirectUri,
        code_challenge: request.codeChallenge,
        nonce,
        client: request.client,
        created_at: now,
        expires_at: now + this.options.stateTtlMs * 1000,
      },
      this.options.pending,
    )
    if (!outcome.stored) throw tooManyPending(outcome.scope, outcome.oldestExpiresAt - now)
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: request.redirectUri,
      scope: 'openid email profile',
      response_type: 'code',
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    })
    return { authorizationUrl: url.href, state }
  }

  async finish(request: LoginFinish): Promise<{ identity: IdentityRow; created: boolean }> {
    const pending = await this.states.take(request.state)
    if (!pending || pending.expires_at <= nowMicros()) {
      throw invalidArgument('state', 'is unknown, expired or already used: start the login again')
    }
    const challenge = Buffer.from(createHash('sha256').update(request.codeVerifier).digest('base64url'))
    const expected = Buffer.from(pending.code_challenge)
    if (challenge.length !== expected.length || !timingSafeEqual(challenge, expected)) {
      throw invalidArgument('code_verifier', 'does not match the code_challenge of this login')
    }
    const issuer = this.#issuers.get(pending.issuer_alias)
    if (!issuer) throw invalidArgument('state', 'belongs to an issuer that is no longer configured')
    const config = await this.#configuration(issuer)
    const callbackUrl = new URL(pending.redirect_uri)
    callbackUrl.searchParams.set('code', request.code)
    callbackUrl.searchParams.set('state', request.state)
    // The caller relays code and state only; `state` is bound to this issuer, which answers the
    // mix-up attack RFC 9207's `iss` parameter guards against.
    if (config.serverMetadata().authorization_response_iss_parameter_supported) {
      callbackUrl.searchParams.set('iss', config.serverMetadata().issuer)
    }
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: request.codeVerifier,
        expectedState: request.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      })
    } catch (err) {
      this.log.warn('OIDC code redemption refused', { issuer: issuer.alias, error: describe(err) })
      // The token endpoint's `invalid_grant` is about the code the caller relayed: bad input.
      if (err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant') {
        throw invalidArgument(
          'code',
          'was refused by the identity provider (invalid, expired, already used or from another login)',
        )
      }
      throw new ApiError('unauthenticated', 'the identity provider refused the login')
    }
    return this.identityFrom(issuer.alias, config, tokens)
  }

  /** The issuer `alias` names (default: the first), and its discovered configuration. */
  async issuer(alias: string | undefined): Promise<{ alias: string; config: oidc.Configuration }> {
    const name = this.#alias(alias)
    return { alias: name, config: await this.#configuration(this.#issuers.get(name)!) }
  }

  #alias(requested: string | undefined): string {
    const alias = requested || this.#defaultAlias
    if (!this.#issuers.has(alias)) throw invalidArgument('issuer', `unknown issuer alias "${alias}"`)
    return alias
  }

  /** Finds or provisions the identity an ID token (and, when it lacks them, userinfo) describes. */
  async identityFrom(
    alias: string,
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
  ): Promise<{ identity: IdentityRow; created: boolean }> {
    const claims = tokens.claims()
    if (!claims?.sub) {
      this.log.warn('OIDC login refused: no subject in the ID token', { issuer: alias })
      throw new ApiError('unauthenticated', 'the identity provider refused the login')
    }
    const subject = claims.sub
    // Providers that keep profile claims out of the ID token serve them at userinfo.
    const profile: Record<string, unknown> =
      typeof claims.email === 'string'
        ? claims
        : await oidc.fetchUserInfo(config, tokens.access_token, subject).catch(() => claims)
    // The IdP's profile is not refused (the person could not log in at all) but made text: a
    // display name loses its control characters; an email with any is no email, since stripping
    // could turn it into an address on the admin list.
    const email = typeof profile.email === 'string' && isText(profile.email) ? profile.email : ''
    return this.identities.fromOidc({
      issuer: config.serverMetadata().issuer,
      subject,
      email,
      emailVerified: email !== '' && profile.email_verified === true,
      name: typeof profile.name === 'string' ? stripNonText(profile.name) : '',
    })
  }

  #configuration(issuer: OidcIssuerConfig): Promise<oidc.Configuration> {
    let pending = this.#discovered.get(issuer.alias)
    if (!pending) {
      const url = new URL(issuer.issuer)
      pending = oidc.discovery(url, issuer.clientId, issuer.clientSecret, undefined, {
        ...(url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      // A failed discovery is retried on the next login rather than remembered.
      pending.catch(() => this.#discovered.delete(issuer.alias))
      this.#discovered.set(issuer.alias, pending)
    }
    return pending.catch((err) => {
      this.log.error('OIDC discovery failed', { issuer: issuer.alias, error: describe(err) })
      throw new ApiError('unavailable', `the identity provider "${issuer.alias}" is unreachable`)
    })
  }
}

/** The `resource_exhausted` refusal; `retry_after_seconds` becomes the `Retry-After` header. */
export function tooManyPending(scope: 'client' | 'global', untilFreeUs: number): ApiError {
  const retryAfterSeconds = Math.max(1, Math.ceil(untilFreeUs / 1e6))
  const description =
    scope === 'client'
      ? 'too many logins started from this address are pending: finish one or wait for one to expire'
      : 'too many logins are pending: wait for one to expire'
  return new ApiError('resource_exhausted', description, [
    { description, scope, retry_after_seconds: retryAfterSeconds },
  ])
}

export function describe(err: unknown): string {
  const e = err as { code?: string; error?: string; message?: string }
  return [e.code, e.error, e.message].filter(Boolean).join(': ')
}
