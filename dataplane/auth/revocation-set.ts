/**
 * @module The revoked JTIs this dataplane enforces: API keys, sessions and AI keys.
 *
 * Sized for millions of entries. Every JTI the control plane issues is a prefixed ULID
 * (`key_`, `ses_`, `byok_` + 26 Crockford base32 characters = 128 bits), so each is stored as
 * four 32-bit words plus one word for its prefix and expiry, in an open-addressing hash
 * table of typed arrays: 20 bytes a slot, off the JS heap, nothing for the garbage collector to
 * trace. 1M entries take ~29 MB (at the 0.7 load factor a reserved table is sized for); as JS strings in a `Set` they took ~75 MB of heap and made
 * every major GC walk a million objects. A lookup decodes the 26 characters into registers and
 * probes; no allocation. A JTI of any other shape (none are issued today) goes to a plain `Set`.
 *
 * Each entry keeps when its credential expires (in 4-second units, rounded up), and `prune` drops
 * entries once no token they name can verify any more: past that expiry plus the verifier's clock
 * leeway.
 *
 * @example
 *   const revoked = new RevocationSet()
 *   revoked.add('key_01J…', expiresAtSec)
 *   if (revoked.has(claims.jti)) refuse()
 */

/** The unit of a stored expiry: 30 bits of it reach 2106, as far as the snapshot's u32 seconds. */
const UNIT_SEC = 4
/** The meta word: the prefix tag in the top 2 bits, the expiry (in units) below. */
const TAG_SHIFT = 30
/**
 * By default kept this long past expiry, so that a token a verifier still accepts within its
 * clock leeway (at most 5 minutes, see the configuration) is still refused.
 */
const DEFAULT_LEEWAY_SEC = 300
/** The expiry of an entry whose credential never expires; also the mask of the expiry bits. */
const NEVER = 0x3fffffff
const PREFIXES = ['key_', 'ses_', 'byok_'] as const
const MIN_CAPACITY = 4096
/** Linear probing stays at a few probes a miss up to here (~6 at 0.7, 2.5 at 0.5). */
const MAX_LOAD = 0.7

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const DECODE = new Int8Array(128).fill(-1)
for (let i = 0; i < CROCKFORD.length; i++) DECODE[CROCKFORD.charCodeAt(i)] = i

/** The words of the last JTI decoded (module-level, so a lookup allocates nothing). */
const words = new Uint32Array(4)

/**
 * Decodes a prefixed ULID into `words`; answers its prefix tag (1-based), or 0 when the JTI has
 * another shape.
 */
function decode(jti: string): number {
  let tag: number
  let at: number
  if (jti.length === 30 && (jti.startsWith('key_') || jti.startsWith('ses_'))) {
    tag = jti.charCodeAt(0) === 107 ? 1 : 2
    at = 4
  } else if (jti.length === 31 && jti.startsWith('byok_')) {
    tag = 3
    at = 5
  } else return 0
  // The first character carries 3 of the 128 bits.
  const first = jti.charCodeAt(at)
  if (first > 127 || DECODE[first]! < 0 || DECODE[first]! > 7) return 0
  let w0 = 0
  let w1 = 0
  let w2 = 0
  let w3 = 0
  for (let i = at; i < at + 26; i++) {
    const c = jti.charCodeAt(i)
    const v = c < 128 ? DECODE[c]! : -1
    if (v < 0) return 0
    w0 = (w0 << 5) | (w1 >>> 27)
    w1 = (w1 << 5) | (w2 >>> 27)
    w2 = (w2 << 5) | (w3 >>> 27)
    w3 = (w3 << 5) | v
  }
  words[0] = w0
  words[1] = w1
  words[2] = w2
  words[3] = w3
  return tag
}

/** `decode` for a JTI given as Latin-1 bytes (a snapshot's), without making it a string. */
function decodeBytes(b: Uint8Array, start: number, length: number): number {
  let tag: number
  let at: number
  const c0 = b[start]!
  if (
    length === 30 &&
    b[start + 3] === 95 &&
    ((c0 === 107 && b[start + 1] === 101 && b[start + 2] === 121) ||
      (c0 === 115 && b[start + 1] === 101 && b[start + 2] === 115))
  ) {
    tag = c0 === 107 ? 1 : 2
    at = start + 4
  } else if (
    length === 31 &&
    c0 === 98 &&
    b[start + 1] === 121 &&
    b[start + 2] === 111 &&
    b[start + 3] === 107 &&
    b[start + 4] === 95
  ) {
    tag = 3
    at = start + 5
  } else return 0
  const first = b[at]!
  if (first > 127 || DECODE[first]! < 0 || DECODE[first]! > 7) return 0
  let w0 = 0
  let w1 = 0
  let w2 = 0
  let w3 = 0
  for (let i = at; i < at + 26; i++) {
    const c = b[i]!
    const v = c < 128 ? DECODE[c]! : -1
    if (v < 0) return 0
    w0 = (w0 << 5) | (w1 >>> 27)
    w1 = (w1 << 5) | (w2 >>> 27)
    w2 = (w2 << 5) | (w3 >>> 27)
    w3 = (w3 << 5) | v
  }
  words[0] = w0
  words[1] = w1
  words[2] = w2
  words[3] = w3
  return tag
}

function encode(tag: number, w: ArrayLike<number>, offset: number): string {
  let out = ''
  let w0 = w[offset]!
  let w1 = w[offset + 1]!
  let w2 = w[offset + 2]!
  let w3 = w[offset + 3]!
  for (let i = 0; i < 26; i++) {
    out = CROCKFORD[w3 & 31] + out
    w3 = (w3 >>> 5) | ((w2 & 31) << 27)
    w2 = (w2 >>> 5) | ((w1 & 31) << 27)
    w1 = (w1 >>> 5) | ((w0 & 31) << 27)
    w0 >>>= 5
  }
  return PREFIXES[tag - 1] + out
}

/**
 * The home slot of a key in a table of `capacity` slots: a 32-bit hash scaled to the capacity
 * (multiply-shift), so the capacity need not be a power of two and a reserved table is no larger
 * than the load factor requires.
 */
function home(w0: number, w1: number, w2: number, w3: number, capacity: number): number {
  let h = Math.imul(w3 ^ Math.imul(w2, 0x85ebca6b) ^ Math.imul(w1, 0xc2b2ae35) ^ w0, 0x9e3779b1)
  h ^= h >>> 15
  return Math.floor(((h >>> 0) * capacity) / 4294967296)
}

const expiryUnits = (expiresAtSec: number): number =>
  Number.isFinite(expiresAtSec) ? Math.max(0, Math.min(NEVER - 1, Math.ceil(expiresAtSec / UNIT_SEC))) : NEVER

const unitsToSec = (units: number): number => (units === NEVER ? Number.POSITIVE_INFINITY : units * UNIT_SEC)

/** An expiry hour (the unit of snapshot files before format 3) in today's units. */
export const hourToUnits = (hour: number): number => (hour >= 0x0fffffff ? NEVER : hour * (3600 / UNIT_SEC))

/** The meta word of an entry from a snapshot file of format 2: `tag << 28 | hour`. */
export const metaFromV2 = (m: number): number =>
  (((m >>> 28) << TAG_SHIFT) | hourToUnits(m & 0x0fffffff)) >>> 0

export type RevocationListener = (jti: string) => void

/** A bulk load in progress (see `RevocationSet.bulkLoad`). */
export interface BulkLoad {
  /** Adds the JTI held in `bytes[start, start + length)` (Latin-1), expiring at `expiresAtSec`. */
  addBytes(bytes: Uint8Array, start: number, length: number, expiresAtSec: number): void
  /** Tells the `onBulkAdded` listeners, if anything was added since the last time. */
  flush(): void
  /** Flushes; answers how many entries were new in all. */
  end(): number
}

/** Bytes of one compact entry in `exportBlocks` / `importBlock`: four key words, then tag << 30 | expiry units. */
export const ENTRY_BYTES = 20

/** `exportBlocks` was interrupted by a rehash; start it again. */
export class RehashedDuringExport extends Error {
  constructor() {
    super('the revocation set was rehashed during export')
    this.name = 'RehashedDuringExport'
  }
}

export class RevocationSet {
  #keys = new Uint32Array(MIN_CAPACITY * 4)
  /** 0: empty slot; else prefix tag << 30 | expiry (units). */
  #meta = new Uint32Array(MIN_CAPACITY)
  #capacity = MIN_CAPACITY
  #compactSize = 0
  readonly #other = new Map<string, number>()
  readonly #listeners: RevocationListener[] = []
  readonly #leewaySec: number

  /** `leewaySec`: the verifier's clock leeway; an entry is kept this long past its expiry. */
  constructor(options: { leewaySec?: number } = {}) {
    this.#leewaySec = options.leewaySec ?? DEFAULT_LEEWAY_SEC
  }

  #expired(units: number, nowSec: number): boolean {
    return units !== NEVER && units * UNIT_SEC + this.#leewaySec < nowSec
  }
  readonly #bulkListeners: Array<() => void> = []

  get size(): number {
    return this.#compactSize + this.#other.size
  }

  has(jti: string): boolean {
    const tag = decode(jti)
    if (tag === 0) return this.#other.has(jti)
    return this.#find(tag) >= 0
  }

  /**
   * Adds a revoked JTI whose credential expires at `expiresAtSec` (epoch seconds; absent:
   * never). Answers whether it was new. An entry already past expiry (and its margin) is not
   * kept: no token it names can verify.
   */
  add(
    jti: string,
    expiresAtSec: number = Number.POSITIVE_INFINITY,
    nowSec: number = Date.now() / 1000,
  ): boolean {
    const units = expiryUnits(expiresAtSec)
    if (this.#expired(units, nowSec)) return false
    const tag = decode(jti)
    if (tag === 0) {
      if (this.#other.has(jti)) return false
      this.#other.set(jti, units)
    } else if (!this.#insert(tag, units)) return false
    for (const listener of this.#listeners) listener(jti)
    return true
  }

  /**
   * Makes room for `entries` in all, at once: loading a large snapshot then allocates the table
   * once instead of doubling it (and holding two copies) twenty times.
   */
  reserve(entries: number): void {
    const capacity = Math.ceil(entries / MAX_LOAD) + 1
    if (capacity > this.#capacity) this.#rebuild(capacity)
  }

  /** Called with every JTI added, after it is in the set (not for a bulk load's: see `onBulkAdded`). */
  onAdded(listener: RevocationListener): void {
    this.#listeners.push(listener)
  }

  /**
   * Called at each flush of a bulk load that added entries, once they are in the set: the
   * listener drops or checks what it derived, instead of being handed a million JTIs.
   */
  onBulkAdded(listener: () => void): void {
    this.#bulkListeners.push(listener)
  }

  /**
   * Loads many entries (a full snapshot) without making a string per entry: each JTI is decoded
   * from its bytes straight into the table, and the listeners are told at each `flush`
   * (`onBulkAdded`) instead of once per JTI. About half the CPU of `add` per entry.
   * Entries already expired are skipped, duplicates too; JTIs of another shape go through `add`.
   */
  bulkLoad(nowSec: number = Date.now() / 1000): BulkLoad {
    let pending = 0
    let added = 0
    const flush = () => {
      if (pending === 0) return
      pending = 0
      for (const listener of this.#bulkListeners) listener()
    }
    return {
      addBytes: (bytes, start, length, expiresAtSec) => {
        const units = expiryUnits(expiresAtSec)
        if (this.#expired(units, nowSec)) return
        const tag = decodeBytes(bytes, start, length)
        if (tag === 0) {
          const jti = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
            'latin1',
            start,
            start + length,
          )
          if (this.add(jti, expiresAtSec, nowSec)) added++
          return
        }
        if (!this.#insert(tag, units)) return
        added++
        pending++
      },
      flush,
      end: () => {
        flush()
        return added
      },
    }
  }

  /** Drops every entry whose credential has expired; answers how many. */
  prune(nowSec: number = Date.now() / 1000): number {
    let removed = 0
    for (const [jti, units] of this.#other) {
      if (this.#expired(units, nowSec)) {
        this.#other.delete(jti)
        removed++
      }
    }
    let stale = 0
    for (let slot = 0; slot < this.#capacity; slot++) {
      const m = this.#meta[slot]!
      if (m !== 0 && this.#expired(m & NEVER, nowSec)) stale++
    }
    if (stale > 0) this.#rebuild(this.#capacity, nowSec)
    return removed + stale
  }

  /**
   * The compact entries as little-endian blocks of at most `maxEntries` each, copied one block at
   * a time (so writing 1M entries never holds a second copy of the table). Entries added between
   * blocks may or may not be included; if the table is rehashed between blocks (it grew, or was
   * pruned) the iteration throws, since slots moved: the caller starts again.
   */
  *exportBlocks(maxEntries: number): Generator<Buffer> {
    const keys = this.#keys
    let slot = 0
    while (slot < this.#capacity) {
      if (this.#keys !== keys) throw new RehashedDuringExport()
      const block = Buffer.allocUnsafe(maxEntries * ENTRY_BYTES)
      let n = 0
      for (; slot < this.#capacity && n < maxEntries; slot++) {
        const m = this.#meta[slot]!
        if (m === 0) continue
        const at = n * ENTRY_BYTES
        const k = slot * 4
        block.writeUInt32LE(keys[k]!, at)
        block.writeUInt32LE(keys[k + 1]!, at + 4)
        block.writeUInt32LE(keys[k + 2]!, at + 8)
        block.writeUInt32LE(keys[k + 3]!, at + 12)
        block.writeUInt32LE(m, at + 16)
        n++
      }
      if (n > 0) yield block.subarray(0, n * ENTRY_BYTES)
    }
  }

  /** The entries that are not prefixed ULIDs, with their expiry (4-second units). */
  exportOther(): Array<[jti: string, units: number]> {
    return [...this.#other]
  }

  /** Adds a block written by `exportBlocks`; answers how many entries were kept. */
  importBlock(block: Buffer, nowSec: number = Date.now() / 1000): number {
    const scratch = new Uint32Array(4)
    let kept = 0
    for (let at = 0; at + ENTRY_BYTES <= block.length; at += ENTRY_BYTES) {
      const m = block.readUInt32LE(at + 16)
      const tag = m >>> TAG_SHIFT
      const units = m & NEVER
      if (tag < 1 || tag > PREFIXES.length || this.#expired(units, nowSec)) continue
      for (let i = 0; i < 4; i++) scratch[i] = block.readUInt32LE(at + i * 4)
      const jti = encode(tag, scratch, 0)
      if (this.add(jti, unitsToSec(units), nowSec)) kept++
    }
    return kept
  }

  /** Adds entries given by `exportOther`. */
  importOther(entries: ReadonlyArray<readonly [string, number]>, nowSec: number = Date.now() / 1000): number {
    let kept = 0
    for (const [jti, units] of entries) {
      if (this.add(jti, unitsToSec(units), nowSec)) kept++
    }
    return kept
  }

  /** Every JTI, as strings (tests and diagnostics; allocates one string per entry). */
  *jtis(): IterableIterator<string> {
    for (let slot = 0; slot < this.#capacity; slot++) {
      const m = this.#meta[slot]!
      if (m !== 0) yield encode(m >>> TAG_SHIFT, this.#keys, slot * 4)
    }
    yield* this.#other.keys()
  }

  /** The slot holding `words` with this tag, or -1. */
  #find(tag: number): number {
    const w0 = words[0]!
    const w1 = words[1]!
    const w2 = words[2]!
    const w3 = words[3]!
    const keys = this.#keys
    const meta = this.#meta
    const capacity = this.#capacity
    for (let slot = home(w0, w1, w2, w3, capacity); ; slot = slot + 1 === capacity ? 0 : slot + 1) {
      const m = meta[slot]!
      if (m === 0) return -1
      const k = slot * 4
      if (
        keys[k + 3] === w3 &&
        keys[k + 2] === w2 &&
        keys[k + 1] === w1 &&
        keys[k] === w0 &&
        m >>> TAG_SHIFT === tag
      ) {
        return slot
      }
    }
  }

  /** Inserts `words`; false when present. */
  #insert(tag: number, units: number): boolean {
    if (this.#find(tag) >= 0) return false
    if (this.#compactSize + 1 > this.#capacity * MAX_LOAD) this.#rebuild(this.#capacity * 2)
    this.#place(words[0]!, words[1]!, words[2]!, words[3]!, (tag << TAG_SHIFT) | units)
    this.#compactSize++
    return true
  }

  #place(w0: number, w1: number, w2: number, w3: number, m: number): void {
    const capacity = this.#capacity
    let slot = home(w0, w1, w2, w3, capacity)
    while (this.#meta[slot] !== 0) slot = slot + 1 === capacity ? 0 : slot + 1
    const k = slot * 4
    this.#keys[k] = w0
    this.#keys[k + 1] = w1
    this.#keys[k + 2] = w2
    this.#keys[k + 3] = w3
    this.#meta[slot] = m
  }

  /** Rehashes into a table of `capacity` slots, dropping entries expired at `nowSec` if given. */
  #rebuild(capacity: number, nowSec?: number): void {
    const keys = this.#keys
    const meta = this.#meta
    this.#keys = new Uint32Array(capacity * 4)
    this.#meta = new Uint32Array(capacity)
    this.#capacity = capacity
    this.#compactSize = 0
    for (let slot = 0; slot < meta.length; slot++) {
      const m = meta[slot]!
      if (m === 0 || (nowSec !== undefined && this.#expired(m & NEVER, nowSec))) continue
      const k = slot * 4
      this.#place(keys[k]!, keys[k + 1]!, keys[k + 2]!, keys[k + 3]!, m)
      this.#compactSize++
    }
  }
}
