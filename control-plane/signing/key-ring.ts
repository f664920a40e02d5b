/**
 * @module The control plane's signing keys. It signs every token with the newest active key,
 * publishes every key that may still have valid tokens, and rotates: a new key is published at
 * once and signs only after the publish delay, so verifiers see it before any token needs it.
 * A key's first signature is recorded (before the token leaves), so a key that retires without
 * having signed (superseded while pending activation, or active but unused until the next key
 * took over) leaves the JWKS when it retires: quick rotations do not pile up published keys.
 * Private keys are stored sealed under the root key.
 */
import { EventEmitter } from 'node:events'
import { exportJWK, generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose'
import { ulid } from 'ulid'
import { ApiError } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
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

interface GeneratedKey {
  kid: string
  publicJwk: PublishedJwk
  sealed: Buffer
  privateKey: SigningKey
}

export class KeyRing extends EventEmitter<{ changed: [] }> {
  readonly #store: SigningKeyStore
  readonly #rootKey: Buffer
  readonly #options: KeyRingOptions
  readonly #log: Logger
  readonly #audit: AuditTrail
  #rows: SigningKeyRow[] = []
  readonly #privateKeys = new Map<string, SigningKey>()
  /** Fires when an unsigned key retires, so the JWKS change is announced then. */
  #retirementTimer: NodeJS.Timeout | undefined
  #publishedKids = ''
  /** The rotation of this process being written and reloaded, if any: signing waits for it. */
  #rotation: Promise<void> | undefined
  /** Loads started and the latest applied: an older read finishing last does not overwrite a newer. */
  #loadsStarted = 0
  #loadApplied = 0

  constructor(
    store: SigningKeyStore,
    rootKey: Buffer,
    options: KeyRingOptions,
    log: Logger,
    audit: AuditTrail,
  ) {
    super()
    this.#audit = audit
    this.#store = store
    this.#rootKey = rootKey
    this.#options = options
    this.#log = log
  }

  /** Loads the keys, creating the first one on a fresh database (once, however many replicas start). */
  async init(): Promise<void> {
    await this.#store.exclusive(async () => {
      await this.#load()
      if (this.#rows.length === 0) await this.#insertKey(await this.#generateKey(), 0, false)
    })
    await this.#load()
  }

  /** Stops the timer that announces retirements. */
  close(): void {
    clearTimeout(this.#retirementTimer)
  }

  /**
   * Keys that may still verify a valid token: the JWKS. A key is published from its creation
   * until `publish_until`, except that once retired, a key that never signed is not.
   */
  publishedKeys(now = nowMicros()): PublishedJwk[] {
    return this.#rows.filter((r) => isPublished(r, now)).map((r) => JSON.parse(r.public_jwk) as PublishedJwk)
  }

  /**
   * The key that signs now: the newest whose activation time has passed and that was not retired
   * by then. A key superseded by a later rotation before its own activation never signs.
   */
  activeKid(now = nowMicros()): string {
    return this.#activeRow(now).kid
  }

  async sign(claims: JWTPayload): Promise<string> {
    // A rotation of this process between its commit and its reload: sign with what it wrote.
    if (this.#rotation) await this.#rotation
    let now = nowMicros()
    let row = this.#activeRow(now)
    // Recorded before the token exists, and only while the key is not retired in the database: a
    // rotation (of any replica) that retired it unsigned has unpublished it, so the key is chosen again.
    for (let attempt = 1; row.first_signed_at === null; attempt++) {
      if (await this.#store.markSigned(row.kid, now)) {
        row.first_signed_at = now
        break
      }
      if (attempt === 3) throw new ApiError('unavailable', 'the signing keys are being rotated; retry')
      await this.#load()
      now = nowMicros()
      row = this.#activeRow(now)
    }
    const kid = row.kid
    const key = await this.#privateKey(kid)
    return new SignJWT(claims).setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' }).sign(key)
  }

  /**
   * Publishes a new key now; it signs after `activateAfterMs`. The key signing today retires at
   * that moment and stays published for the longest token lifetime after, if it signed by then;
   * a key still pending activation from an earlier rotation retires now, unpublished.
   */
  async rotate(
    activateAfterMs = this.#options.publishDelayMs,
  ): Promise<{ kid: string; activatesAt: number; retiringKid?: string }> {
    const generated = await this.#generateKey()
    const rotation = this.#store
      .exclusive(async () => {
        const inserted = await this.#insertKey(generated, activateAfterMs, true)
        await this.#audit.record({
          action: 'signing_key.rotate',
          target: inserted.kid,
          details: {
            activate_after_ms: activateAfterMs,
            ...(inserted.retiringKid ? { retiring_kid: inserted.retiringKid } : {}),
          },
        })
        return inserted
      })
      .then(async (inserted) => {
        await this.#load()
        return inserted
      })
    const settled = rotation.then(
      () => {},
      () => {},
    )
    this.#rotation = settled
    let inserted: Awaited<typeof rotation>
    try {
      inserted = await rotation
    } finally {
      if (this.#rotation === settled) this.#rotation = undefined
    }
    const { kid, activatesAt, retiringKid } = inserted
    this.#log.info('signing key rotated', { kid, activates_at_us: activatesAt, retiring_kid: retiringKid })
    this.emit('changed')
    return { kid, activatesAt, ...(retiringKid ? { retiringKid } : {}) }
  }

  /**
   * Reads the keys again (another replica rotated them): emits `changed` when the published set
   * differs from what this process had.
   */
  async reload(): Promise<void> {
    const before = this.#publishedKids
    await this.#load()
    if (this.#publishedKids !== before) this.emit('changed')
  }

  #activeRow(now: number): SigningKeyRow {
    const active = activeRowOf(this.#rows, now)
    if (!active) throw new ApiError('internal', 'no active signing key')
    return active
  }

  async #load(): Promise<void> {
    const started = ++this.#loadsStarted
    const rows = await this.#store.all()
    if (started < this.#loadApplied) return
    this.#loadApplied = started
    this.#rows = rows
    this.#publishedKids = this.#kids()
    this.#scheduleRetirement()
  }

  #kids(now = nowMicros()): string {
    return this.#rows
      .filter((r) => isPublished(r, now))
      .map((r) => r.kid)
      .join(' ')
  }

  /**
   * The next moment a key that has not signed retires (and so leaves the JWKS): the published
   * set changes then without a rotation, and verifiers are told as they are for one.
   */
  #scheduleRetirement(): void {
    clearTimeout(this.#retirementTimer)
    const now = nowMicros()
    const next = Math.min(
      ...this.#rows
        .filter((r) => r.first_signed_at === null && r.retired_at !== null && r.retired_at > now)
        .map((r) => r.retired_at as number),
    )
    if (!Number.isFinite(next)) return
    const delayMs = Math.min(Math.ceil((next - now) / 1000) + 1, 2 ** 31 - 1)
    this.#retirementTimer = setTimeout(() => {
      const kids = this.#kids()
      if (kids !== this.#publishedKids) {
        this.#publishedKids = kids
        this.emit('changed')
      }
      this.#scheduleRetirement()
    }, delayMs)
    this.#retirementTimer.unref()
  }

  /** A new key pair, its public JWK and its sealed private JWK (slow: done before any lock is taken). */
  async #generateKey(): Promise<GeneratedKey> {
    const kid = `sk_${ulid()}`
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
      modulusLength: 2048,
      extractable: true,
    })
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' } as PublishedJwk
    const privateJwk = JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG })
    const sealed = seal(this.#rootKey, Buffer.from(privateJwk, 'utf8'), aadFor(kid))
    return { kid, publicJwk, sealed, privateKey }
  }

  /**
   * Stores a generated key. Called holding the signing-key lock: the time is taken and the keys
   * are read there, so which key is pending and which signs is decided on what is committed, not
   * on this process's copy or a clock read before another replica's rotation.
   */
  async #insertKey(
    key: GeneratedKey,
    activateAfterMs: number,
    supersede: boolean,
  ): Promise<{ kid: string; activatesAt: number; retiringKid?: string }> {
    const { kid } = key
    const rows = await this.#store.all()
    const now = nowMicros()
    const activatesAt = now + activateAfterMs * 1000
    const retiringKid = supersede ? activeRowOf(rows, now)?.kid : undefined
    await this.#store.add(
      {
        kid,
        alg: SIGNING_ALG,
        public_jwk: JSON.stringify(key.publicJwk),
        sealed_private: key.sealed,
        created_at: now,
        activates_at: activatesAt,
      },
      supersede
        ? { now, retireAt: activatesAt, publishUntil: activatesAt + this.#options.maxTokenTtlMs * 1000 }
        : undefined,
    )
    this.#privateKeys.set(kid, key.privateKey)
    return { kid, activatesAt, ...(retiringKid ? { retiringKid } : {}) }
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

function isPublished(row: SigningKeyRow, now: number): boolean {
  if (row.publish_until !== null && row.publish_until <= now) return false
  return row.first_signed_at !== null || row.retired_at === null || row.retired_at > now
}

/** The newest key activated by `now` and not retired by then (rows in activation order). */
function activeRowOf(rows: readonly SigningKeyRow[], now: number): SigningKeyRow | undefined {
  return rows.filter((r) => r.activates_at <= now && (r.retired_at === null || r.retired_at > now)).at(-1)
}
