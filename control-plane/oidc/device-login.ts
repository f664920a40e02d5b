/**
 * @module The device authorization flow (RFC 8628) with the control plane as the OIDC client:
 * `start` asks the issuer for a device code (refused with failed_precondition when the issuer
 * advertises no device authorization endpoint) and hands the caller the user code, the
 * verification URIs and an unguessable, single-use device handle; the device code itself stays
 * in the database. `poll` redeems it at the issuer's token endpoint, at most once per interval
 * for every replica together (sooner: slow_down, and the interval grows by 5 s), and on success
 * finds or provisions the identity exactly as the code flow does.
 *
 * Starting needs no credential, so pending device logins are capped like login states, and the
 * cap is taken (a reserved row) before the IdP is asked: a capped client costs the IdP nothing.
 */
import { createHash, randomBytes } from 'node:crypto'
import * as oidc from 'openid-client'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'
import type { DeviceLoginStore } from '../store/device-logins.ts'
import type { PendingCaps } from '../store/login-states.ts'
import type { IdentityRow } from '../store/tenancy.ts'
import { describe, type OidcLogin, tooManyPending } from './login.ts'

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
/** RFC 8628 §3.2: the interval when the issuer names none. */
const DEFAULT_INTERVAL_S = 5

export interface DeviceLoginOptions {
  /** Longest a device login stays pending (the issuer's own expiry may be shorter). */
  ttlMs: number
  pending: PendingCaps
}

export interface DeviceStarted {
  deviceHandle: string
  userCode: string
  verificationUri: string
  verificationUriComplete: string | undefined
  intervalSeconds: number
  expiresInSeconds: number
}

export type DevicePoll =
  | { status: 'authorization_pending' | 'slow_down'; intervalSeconds: number }
  | { status: 'complete'; identity: IdentityRow }

export class DeviceLogin {
  constructor(
    private readonly options: DeviceLoginOptions,
    private readonly store: DeviceLoginStore,
    private readonly login: OidcLogin,
    private readonly log: Logger,
  ) {}

  async start(request: { issuer?: string | undefined; client: string }): Promise<DeviceStarted> {
    const { alias, config } = await this.login.issuer(request.issuer)
    if (!config.serverMetadata().device_authorization_endpoint) {
      throw new ApiError(
        'failed_precondition',
        `the identity provider "${alias}" advertises no device_authorization_endpoint: use "tare api login" (or --no-browser)`,
        [{ field: 'issuer', description: 'has no device_authorization_endpoint' }],
      )
    }
    // The pending-login caps are taken before the IdP is asked, with a reservation, so a client
    // past its cap costs no request to the provider; the reservation goes if the IdP refuses.
    const deviceHandle = randomBytes(32).toString('base64url')
    const handleHash = hash(deviceHandle)
    const now = nowMicros()
    const outcome = await this.store.insertWithinCaps(
      {
        handle_hash: handleHash,
        issuer_alias: alias,
        device_code: '',
        interval_ms: DEFAULT_INTERVAL_S * 1000,
        // The first poll may come at once; the interval is between polls.
        next_poll_at: now,
        client: request.client,
        created_at: now,
        expires_at: now + this.options.ttlMs * 1000,
      },
      this.options.pending,
    )
    if (!outcome.stored) throw tooManyPending(outcome.scope, outcome.oldestExpiresAt - now)
    let response: oidc.DeviceAuthorizationResponse
    try {
      response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email profile' })
    } catch (err) {
      await this.store.take(handleHash)
      this.log.warn('OIDC device authorization refused', { issuer: alias, error: describe(err) })
      throw new ApiError('unavailable', `the identity provider "${alias}" refused to start a device login`)
    }
    const intervalSeconds = response.interval ?? DEFAULT_INTERVAL_S
    const ttlMs = Math.min(this.options.ttlMs, response.expires_in * 1000)
    const filled = await this.store.fill(handleHash, {
      device_code: response.device_code,
      interval_ms: intervalSeconds * 1000,
      expires_at: now + ttlMs * 1000,
    })
    if (!filled) throw new ApiError('unavailable', 'the device login expired while starting: start it again')
    return {
      deviceHandle,
      userCode: response.user_code,
      verificationUri: response.verification_uri,
      verificationUriComplete: response.verification_uri_complete,
      intervalSeconds,
      expiresInSeconds: Math.floor(ttlMs / 1000),
    }
  }

  async poll(deviceHandle: string): Promise<DevicePoll> {
    const handleHash = hash(deviceHandle)
    const claim = await this.store.claimPoll(handleHash, nowMicros())
    if (claim.kind === 'none') throw unknownHandle()
    if (claim.kind === 'early') return { status: 'slow_down', intervalSeconds: claim.intervalMs / 1000 }
    const { row } = claim
    const intervalSeconds = row.interval_ms / 1000
    const { config } = await this.login.issuer(row.issuer_alias)
    let tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers
    try {
      tokens = await oidc.genericGrantRequest(config, DEVICE_CODE_GRANT, { device_code: row.device_code })
    } catch (err) {
      const code = err instanceof oidc.ResponseBodyError ? err.error : undefined
      if (code === 'authorization_pending') return { status: 'authorization_pending', intervalSeconds }
      if (code === 'slow_down') {
        const ms = await this.store.slowDown(handleHash)
        return { status: 'slow_down', intervalSeconds: (ms ?? row.interval_ms + 5000) / 1000 }
      }
      this.log.warn('OIDC device code redemption refused', { issuer: row.issuer_alias, error: describe(err) })
      if (code === 'access_denied') {
        await this.store.take(handleHash)
        throw new ApiError('permission_denied', 'the login was refused at the identity provider')
      }
      if (code === 'expired_token' || code === 'invalid_grant') {
        await this.store.take(handleHash)
        throw unknownHandle()
      }
      throw new ApiError('unavailable', `the identity provider "${row.issuer_alias}" did not answer the poll`)
    }
    // Single use: of two polls that both saw the approval, one takes the login.
    if (!(await this.store.take(handleHash))) throw unknownHandle()
    const { identity } = await this.login.identityFrom(row.issuer_alias, config, tokens)
    return { status: 'complete', identity }
  }
}

function hash(handle: string): string {
  return createHash('sha256').update(handle).digest('base64url')
}

function unknownHandle(): ApiError {
  return invalidArgument('device_handle', 'is unknown, expired or already used: start the login again')
}
