/**
 * @module Pending device logins (RFC 8628), keyed by the SHA-256 of their handle: the IdP's
 * device code, the polling interval and when the next poll may reach the IdP. Capped per client
 * and overall like login states; single use (a completed login is deleted by the poll that
 * completes it); expired rows purged in bounded batches off the request path.
 */

import type { Db } from './db.ts'
import type { PendingCaps } from './login-states.ts'

export interface DeviceLoginRow {
  handle_hash: string
  issuer_alias: string
  device_code: string
  interval_ms: number
  next_poll_at: number
  client: string
  created_at: number
  expires_at: number
}

export type DeviceInsertOutcome =
  | { stored: true }
  | { stored: false; scope: 'client' | 'global'; oldestExpiresAt: number }

/** A poll let through to the IdP (`row`), or held back because it came before `next_poll_at`. */
export type PollClaim =
  | { kind: 'go'; row: DeviceLoginRow }
  | { kind: 'early'; intervalMs: number }
  | { kind: 'none' }

export class DeviceLoginStore {
  constructor(readonly db: Db) {}

  /** Stores the row unless its client, or everyone together, holds the most pending allowed. */
  insertWithinCaps(row: DeviceLoginRow, caps: PendingCaps): Promise<DeviceInsertOutcome> {
    return this.db.transaction(
      async (tx): Promise<DeviceInsertOutcome> => {
        const now = row.created_at
        const client = await tx.get<{ n: number; oldest: number }>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM device_logins WHERE client = ? AND expires_at > ?',
          [row.client, now],
        )
        if (Number(client?.n ?? 0) >= caps.perClientMax)
          return { stored: false, scope: 'client', oldestExpiresAt: Number(client?.oldest) }
        const all = await tx.get<{ n: number; oldest: number }>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM device_logins WHERE expires_at > ?',
          [now],
        )
        if (Number(all?.n ?? 0) >= caps.max)
          return { stored: false, scope: 'global', oldestExpiresAt: Number(all?.oldest) }
        await tx.run(
          `INSERT INTO device_logins (handle_hash, issuer_alias, device_code, interval_ms, next_poll_at, client, created_at, expires_at)
           VALUES (@handle_hash, @issuer_alias, @device_code, @interval_ms, @next_poll_at, @client, @created_at, @expires_at)`,
          row,
        )
        return { stored: true }
      },
      { lock: 'agentrouter.device-logins' },
    )
  }

  /**
   * Fills in what the IdP answered for a row reserved before asking it (`device_code` empty
   * until then); false when the reservation is gone.
   */
  async fill(
    handleHash: string,
    answer: Pick<DeviceLoginRow, 'device_code' | 'interval_ms' | 'expires_at'>,
  ): Promise<boolean> {
    const { changes } = await this.db.run(
      'UPDATE device_logins SET device_code = ?, interval_ms = ?, expires_at = ? WHERE handle_hash = ?',
      [answer.device_code, answer.interval_ms, answer.expires_at, handleHash],
    )
    return changes > 0
  }

  /**
   * Lets one poll through per interval, for every replica at once: the update that moves
   * `next_poll_at` on is the claim. A poll before it is `early`, and (RFC 8628 §3.5 slow_down)
   * lengthens the interval by 5 seconds.
   */
  async claimPoll(handleHash: string, now: number): Promise<PollClaim> {
    const row = await this.db.get<DeviceLoginRow>(
      `UPDATE device_logins SET next_poll_at = ? + interval_ms * 1000
       WHERE handle_hash = ? AND next_poll_at <= ? AND expires_at > ? RETURNING *`,
      [now, handleHash, now, now],
    )
    if (row) return { kind: 'go', row: normalise(row) }
    const early = await this.db.get<{ interval_ms: number }>(
      `UPDATE device_logins SET interval_ms = interval_ms + 5000, next_poll_at = next_poll_at + 5000000
       WHERE handle_hash = ? AND expires_at > ? RETURNING interval_ms`,
      [handleHash, now],
    )
    return early ? { kind: 'early', intervalMs: Number(early.interval_ms) } : { kind: 'none' }
  }

  /** The IdP asked to slow down: 5 seconds more between polls from now on. */
  async slowDown(handleHash: string): Promise<number | undefined> {
    const row = await this.db.get<{ interval_ms: number }>(
      `UPDATE device_logins SET interval_ms = interval_ms + 5000, next_poll_at = next_poll_at + 5000000
       WHERE handle_hash = ? RETURNING interval_ms`,
      [handleHash],
    )
    return row ? Number(row.interval_ms) : undefined
  }

  /** Removes the row; true for the one caller that removed it. */
  async take(handleHash: string): Promise<boolean> {
    const { changes } = await this.db.run('DELETE FROM device_logins WHERE handle_hash = ?', [handleHash])
    return changes > 0
  }

  /** Deletes up to `limit` rows expired at `now`; answers how many. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    const { changes } = await this.db.run(
      'DELETE FROM device_logins WHERE handle_hash IN (SELECT handle_hash FROM device_logins WHERE expires_at <= ? LIMIT ?)',
      [now, limit],
    )
    return changes
  }
}

/** PostgreSQL answers BIGINT columns as strings. */
function normalise(row: DeviceLoginRow): DeviceLoginRow {
  return {
    ...row,
    interval_ms: Number(row.interval_ms),
    next_poll_at: Number(row.next_poll_at),
    created_at: Number(row.created_at),
    expires_at: Number(row.expires_at),
  }
}
