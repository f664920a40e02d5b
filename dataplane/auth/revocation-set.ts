/**
 * @module The revoked JTIs this dataplane enforces: API keys, sessions and AI keys. Membership is
 * one `Set<string>` (a lookup costs the same with 0 or 1M entries). Each JTI is also filed under
 * the hour its credential expires, so entries are pruned by the hour once no token they name can
 * verify any more, without keeping a second per-entry timestamp (at 1M entries that would cost
 * more than the JTIs themselves).
 *
 * @example
 *   const revoked = new RevocationSet()
 *   revoked.add('key_01J…', expiresAtSec)
 *   if (revoked.has(claims.jti)) refuse()
 */

/** Expiry buckets are this many seconds wide; an entry is pruned by the end of its bucket. */
const BUCKET_SEC = 3600
/**
 * Kept this long past the bucket's end, so that a token a verifier still accepts within its
 * clock leeway (30 s) is still refused.
 */
const PRUNE_MARGIN_SEC = 300
/** The bucket of entries whose credential does not expire. */
const NEVER = Number.POSITIVE_INFINITY

export type RevocationListener = (jti: string) => void

export class RevocationSet {
  readonly #jtis = new Set<string>()
  readonly #byExpiry = new Map<number, string[]>()
  readonly #listeners: RevocationListener[] = []

  get size(): number {
    return this.#jtis.size
  }

  has(jti: string): boolean {
    return this.#jtis.has(jti)
  }

  /**
   * Adds a revoked JTI whose credential expires at `expiresAtSec` (epoch seconds). Answers
   * whether it was new. An entry already past expiry (and its margin) is not kept: no token it
   * names can verify.
   */
  add(jti: string, expiresAtSec: number = NEVER, nowSec: number = Date.now() / 1000): boolean {
    if (this.#jtis.has(jti)) return false
    const bucket = bucketOf(expiresAtSec)
    if (bucket + PRUNE_MARGIN_SEC < nowSec) return false
    this.#jtis.add(jti)
    const list = this.#byExpiry.get(bucket)
    if (list) list.push(jti)
    else this.#byExpiry.set(bucket, [jti])
    for (const listener of this.#listeners) listener(jti)
    return true
  }

  /** Called with every JTI added, after it is in the set. */
  onAdded(listener: RevocationListener): void {
    this.#listeners.push(listener)
  }

  /** Drops every entry whose credential has expired; answers how many. */
  prune(nowSec: number = Date.now() / 1000): number {
    let removed = 0
    for (const [bucket, list] of this.#byExpiry) {
      if (bucket + PRUNE_MARGIN_SEC >= nowSec) continue
      for (const jti of list) this.#jtis.delete(jti)
      removed += list.length
      this.#byExpiry.delete(bucket)
    }
    return removed
  }

  /**
   * The entries grouped by expiry bucket (the end of the hour, epoch seconds; `Infinity` for
   * none): what the snapshot file stores. Re-adding each JTI with its bucket as `expiresAtSec`
   * restores the same set.
   */
  buckets(): IterableIterator<[number, readonly string[]]> {
    return this.#byExpiry.entries()
  }
}

function bucketOf(expiresAtSec: number): number {
  if (!Number.isFinite(expiresAtSec)) return NEVER
  return Math.ceil(expiresAtSec / BUCKET_SEC) * BUCKET_SEC
}
