/**
 * @module Pending OIDC logins, keyed by `state`: single use, with an expiry, and the client
 * address that started them. A state is pending from its insert until it is taken or expires;
 * expired rows are deleted in bounded batches, off the request path.
 */
import type { Db } from './db.ts'

export interface LoginStateRow {
  state: string
  issuer_alias: string
  redirect_uri: string
  code_challenge: string
  nonce: string
  /** Who started it: the client address (or its network), for the per-client cap. */
  client: string
  created_at: number
  expires_at: number
}

export interface PendingCaps {
  /** Pending states overall. */
  max: number
  /** Pending states per `client`. */
  perClientMax: number
}

/** Stored, or refused because `scope` already holds its cap; `oldestExpiresAt` frees a slot. */
export type InsertOutcome =
  | { stored: true }
  | { stored: false; scope: 'client' | 'global'; oldestExpiresAt: number }

export class LoginStateStore {
  constructor(readonly db: Db) {}

  /**
   * Stores the state unless its client, or everyone together, already has the most pending
   * states allowed at `row.created_at`. The counts and the insert are one step for every process
   * and replica sharing the database (a write transaction holding the login-state lock).
   */
  insertWithinCaps(row: LoginStateRow, caps: PendingCaps): Promise<InsertOutcome> {
    return this.db.transaction(
      async (tx): Promise<InsertOutcome> => {
        const now = row.created_at
        // Both counts walk an index (client, expires_at) or (expires_at), never the table.
        const client = await tx.get<{ n: number; oldest: number }>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM login_states WHERE client = ? AND expires_at > ?',
          [row.client, now],
        )
        if ((client?.n ?? 0) >= caps.perClientMax)
          return { stored: false, scope: 'client', oldestExpiresAt: client?.oldest as number }
        const all = await tx.get<{ n: number; oldest: number }>(
          'SELECT COUNT(*) AS n, MIN(expires_at) AS oldest FROM login_states WHERE expires_at > ?',
          [now],
        )
        if ((all?.n ?? 0) >= caps.max)
          return { stored: false, scope: 'global', oldestExpiresAt: all?.oldest as number }
        await tx.run(
          `INSERT INTO login_states (state, issuer_alias, redirect_uri, code_challenge, nonce, client, created_at, expires_at)
           VALUES (@state, @issuer_alias, @redirect_uri, @code_challenge, @nonce, @client, @created_at, @expires_at)`,
          row,
        )
        return { stored: true }
      },
      { lock: 'agentrouter.login-states' },
    )
  }

  /** Removes and returns the state: a second take of the same state finds nothing. */
  take(state: string): Promise<LoginStateRow | undefined> {
    return this.db.get<LoginStateRow>('DELETE FROM login_states WHERE state = ? RETURNING *', [state])
  }

  /** Deletes up to `limit` states expired at `now`; answers how many. */
  async purgeExpired(now: number, limit: number): Promise<number> {
    // No DELETE … LIMIT in either engine (SQLite's is a compile-time option): a sub-select bounds it.
    const { changes } = await this.db.run(
      'DELETE FROM login_states WHERE state IN (SELECT state FROM login_states WHERE expires_at <= ? LIMIT ?)',
      [now, limit],
    )
    return changes
  }
}
