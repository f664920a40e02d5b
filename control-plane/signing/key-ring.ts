/**
 * @module The control plane's signing keys. It signs every token with the newest active key,
 * publishes every key that may still have valid tokens, and rotates: a new key is published at
 * once and signs only after the publish delay, so verifiers see it before any token needs it.
 * Private keys are stored sealed under the root key.
 */
import { EventEmitter } from 'node:events'
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose'
import { ulid } from 'ulid'
import { ApiError } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'
import { open, seal } from '../crypto/seal.ts'
import type { SigningKeyRow, SigningKeyStore } from '../store/signing-keys.ts'

export const SIGNING_ALG = 'RS256'

export interface KeyRingOptions {
  /** How long a new key is published before it signs. */
  publishDelayMs: number
  /** The longest a token can live: how long a retired key stays published. */
  maxTokenTtlMs: number
}

export type PublishedJwk = JWK & {
  kty: string
  kid: string
  alg: string
  use: 'sig'
  [member: string]: unknown
}

type SigningKey = Parameters<SignJWT['sign']>[0]

const aadFor = (kid: string): string => `signing-key:${kid}`

export class KeyRing extends EventEmitter<{ changed: [] }> {
  readonly #store: SigningKeyStore
  readonly #rootKey: Buffer
  readonly #options: KeyRingOptions
  readonly #log: Logger
  #rows: SigningKeyRow[] = []
  readonly #privateKeys = new Map<string, SigningKey>()

  constructor(store: SigningKeyStore, rootKey: Buffer, options: KeyRingOptions, log: Logger) {
    super()
    this.#store = store
    this.#rootKey = rootKey
    this.#options = options
    this.#log = log
  }

  /** Loads the keys, creating the first one when there is none. */
  async init(): Promise<void> {
    this.#load()
    if (this.#rows.length === 0) {
      await this.#insertKey(nowMicros())
      this.#load()
    }
  }

  /** Keys that may still verify a valid token: the JWKS. */
  publishedKeys(now = nowMicros()): PublishedJwk[] {
    return this.#rows
      .filter((r) => r.publish_until === null || r.publish_until > now)
      .map((r) => JSON.parse(r.public_jwk) as PublishedJwk)
  }

  /**
   * The key that signs now: the newest whose activation time has passed and that was not retired
   * by then. A key superseded by a later rotation before its own activation never signs.
   */
  activeKid(now = nowMicros()): string {
    const active = this.#rows
      .filter((r) => r.activates_at <= now && (r.retired_at === null || r.retired_at > now))
      .at(-1)
    if (!active) throw new ApiError('internal', 'no active signing key')
    return active.kid
  }

  async sign(claims: JWTPayload): Promise<string> {
    const kid = this.activeKid()
    const key = await this.#privateKey(kid)
    return new SignJWT(claims).setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' }).sign(key)
  }

  /**
   * Publishes a new key now; it signs after `activateAfterMs`. The key signing today retires at
   * that moment and stays published for the longest token lifetime after.
   */
  async rotate(
    activateAfterMs = this.#options.publishDelayMs,
  ): Promise<{ kid: string; activatesAt: number; retiringKid?: string }> {
    const now = nowMicros()
    const activatesAt = now + activateAfterMs * 1000
    const retiringKid = this.activeKid(now)
    const kid = await this.#insertKey(activatesAt, {
      at: activatesAt,
      publishUntil: activatesAt + this.#options.maxTokenTtlMs * 1000,
    })
    this.#load()
    this.#log.info('signing key rotated', { kid, activates_at_us: activatesAt, retiring_kid: retiringKid })
    this.emit('changed')
    return { kid, activatesAt, retiringKid }
  }

  #load(): void {
    this.#rows = this.#store.all()
  }

  async #insertKey(activatesAt: number, retire?: { at: number; publishUntil: number }): Promise<string> {
    const kid = `sk_${ulid()}`
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
      modulusLength: 2048,
      extractable: true,
    })
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' } as PublishedJwk
    const privateJwk = JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG })
    const sealed = seal(this.#rootKey, Buffer.from(privateJwk, 'utf8'), aadFor(kid))
    this.#store.add(
      {
        kid,
        alg: SIGNING_ALG,
        public_jwk: JSON.stringify(publicJwk),
        sealed_private: sealed,
        created_at: nowMicros(),
        activates_at: activatesAt,
      },
      retire,
    )
    this.#privateKeys.set(kid, privateKey)
    return kid
  }

  async #privateKey(kid: string): Promise<SigningKey> {
    const cached = this.#privateKeys.get(kid)
    if (cached) return cached
    const row = this.#rows.find((r) => r.kid === kid)
    if (!row) throw new ApiError('internal', `signing key ${kid} not found`)
    let jwk: JWK
    try {
      jwk = JSON.parse(open(this.#rootKey, row.sealed_private, aadFor(kid)).toString('utf8')) as JWK
    } catch (err) {
      this.#log.error('cannot open the signing key: is this the root key the data was created with?', {
        kid,
        err,
      })
      throw new ApiError(
        'failed_precondition',
        'the signing key cannot be opened with the configured root key',
      )
    }
    const key = (await importJWK(jwk, SIGNING_ALG)) as SigningKey
    this.#privateKeys.set(kid, key)
    return key
  }
}
