/**
 * @module Small facts the control plane keeps about itself (bootstrap done, root key check value).
 */
import type { Db } from './db.ts'

export class SettingsStore {
  constructor(readonly db: Db) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]))?.value
  }

  async set(key: string, value: string): Promise<void> {
    await this.db.run(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    )
  }

  /** Sets `key` unless it is set already; answers the value it holds afterwards. */
  async setIfAbsent(key: string, value: string): Promise<string> {
    await this.db.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [
      key,
      value,
    ])
    return (await this.get(key)) ?? value
  }

  /** Runs `fn` in a transaction holding the named lock, across every replica. */
  exclusive<T>(lock: string, fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn, { lock })
  }
}
