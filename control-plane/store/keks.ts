/**
 * @module Rows of key-encryption keys. The key material is stored only sealed under the root key.
 */
import type { Db } from './db.ts'

export type KekState = 'active' | 'retiring' | 'retired'

export interface KekRow {
  id: string
  state: KekState
  wrapped_key: Buffer | null
  created_at: number
  retired_at: number | null
}

export class KekStore {
  readonly #all
  readonly #insert
  readonly #setState
  readonly #retire

  constructor(readonly db: Db) {
    this.#all = db.prepare('SELECT * FROM keks ORDER BY created_at, id')
    this.#insert = db.prepare(
      'INSERT INTO keks (id, state, wrapped_key, created_at, retired_at) VALUES (@id, @state, @wrapped_key, @created_at, NULL)',
    )
    this.#setState = db.prepare("UPDATE keks SET state = ? WHERE id = ? AND state != 'retired'")
    this.#retire = db.prepare(
      "UPDATE keks SET state = 'retired', wrapped_key = NULL, retired_at = ? WHERE id = ? AND state = 'retiring'",
    )
  }

  all(): KekRow[] {
    return this.#all.all() as KekRow[]
  }

  insert(row: Omit<KekRow, 'retired_at'>): void {
    this.#insert.run(row)
  }

  setState(id: string, state: Exclude<KekState, 'retired'>): void {
    this.#setState.run(state, id)
  }

  /** Marks a retiring KEK retired and deletes its key material. */
  retire(id: string, at: number): boolean {
    return this.#retire.run(at, id).changes === 1
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)()
  }
}
