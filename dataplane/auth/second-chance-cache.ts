/**
 * @module A bounded cache for the request path: a hit is one `Map.get` and a flag write, with no
 * list to reorder (lru-cache's `get` moves the entry within its linked list and checks TTL and
 * diagnostics state on every call, several times that cost). Eviction approximates LRU with the
 * second-chance rule: the oldest entry goes, unless it was read since it was last considered, in
 * which case it moves to the back and the next oldest is considered.
 *
 * @example
 *   const cache = new SecondChanceCache<string, Entry>(10_000, (value, key) => unindex(key))
 *   cache.set(token, entry)
 *   cache.get(token)
 */

interface Slot<V> {
  value: V
  /** Read since it was inserted or last spared. */
  hot: boolean
}

export class SecondChanceCache<K, V> {
  readonly #max: number
  readonly #onRemove: ((value: V, key: K) => void) | undefined
  readonly #slots = new Map<K, Slot<V>>()

  /** `onRemove` is called for every entry that leaves (evicted, deleted or replaced). */
  constructor(max: number, onRemove?: (value: V, key: K) => void) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1')
    this.#max = max
    this.#onRemove = onRemove
  }

  get size(): number {
    return this.#slots.size
  }

  get(key: K): V | undefined {
    const slot = this.#slots.get(key)
    if (slot === undefined) return undefined
    slot.hot = true
    return slot.value
  }

  set(key: K, value: V): void {
    const slot = this.#slots.get(key)
    if (slot !== undefined) {
      const old = slot.value
      slot.value = value
      if (old !== value) this.#onRemove?.(old, key)
      return
    }
    if (this.#slots.size >= this.#max) this.#evictOne()
    this.#slots.set(key, { value, hot: false })
  }

  delete(key: K): boolean {
    const slot = this.#slots.get(key)
    if (slot === undefined) return false
    this.#slots.delete(key)
    this.#onRemove?.(slot.value, key)
    return true
  }

  #evictOne(): void {
    // Map iteration is insertion order; a spared entry is re-inserted at the back. Every entry
    // is spared at most once per call, so this ends within two passes.
    for (const [key, slot] of this.#slots) {
      this.#slots.delete(key)
      if (slot.hot) {
        slot.hot = false
        this.#slots.set(key, slot)
        continue
      }
      this.#onRemove?.(slot.value, key)
      return
    }
  }
}
