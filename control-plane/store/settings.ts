/**
 * @module Small facts the control plane keeps about itself (bootstrap done, root key check value).
 */
import type { Db } from './db.ts'

export class SettingsStore {
  readonly #get
  readonly #set

  constructor(readonly db: Db) {
    this.#get = db.prepare('SELECT value FROM settings WHERE key = ?').pluck()
    this.#set = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    )
  }

  get(key: string): string | undefined {
    return this.#get.get(key) as string | undefined
  }

  set(key: string, value: string): void {
    this.#set.run(key, value)
  }
}
