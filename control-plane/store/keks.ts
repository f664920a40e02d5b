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
  constructor(readonly db: Db) {}

  all(): Promise<KekRow[]> {
    return this.db.all<KekRow>('SELECT * FROM keks ORDER BY created_at, id')
  }

  async insert(row: Omit<KekRow, 'retired_at'>): Promise<void> {
    await this.db.run(
      'INSERT INTO keks (id, state, wrapped_key, created_at, retired_at) VALUES (@id, @state, @wrapped_key, @created_at, NULL)',
      row,
    )
  }

  async setState(id: string, state: Exclude<KekState, 'retired'>): Promise<void> {
    await this.db.run("UPDATE keks SET state = ? WHERE id = ? AND state != 'retired'", [state, id])
  }

  /** Marks a retiring KEK retired and deletes its key material. */
  async retire(id: string, at: number): Promise<boolean> {
    const { changes } = await this.db.run(
      "UPDATE keks SET state = 'retired', wrapped_key = NULL, retired_at = ? WHERE id = ? AND state = 'retiring'",
      [at, id],
    )
    return changes === 1
  }

  transaction<T>(fn: () => Promise<T>, options?: { lock?: string }): Promise<T> {
    return this.db.transaction(fn, options)
  }
}
