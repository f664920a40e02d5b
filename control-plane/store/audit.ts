/**
 * @module Rows of the audit trail: appended in the caller's transaction, listed in the order they
 * were written, purged past the retention.
 */
import type { Db } from './db.ts'

export interface AuditRow {
  seq: number
  at: number
  actor_id: string
  credential_id: string
  credential_type: string
  action: string
  target: string
  outcome: string
  client_address: string
  request_id: string
  /** A JSON object of small, non-secret facts (a role, a count). */
  details: string
}

export interface AuditFilter {
  /** Microseconds: records at or after. */
  since?: number | undefined
  actor?: string | undefined
  action?: string | undefined
  target?: string | undefined
}

export class AuditStore {
  constructor(readonly db: Db) {}

  async insert(row: Omit<AuditRow, 'seq'>): Promise<void> {
    await this.db.run(
      `INSERT INTO audit (at, actor_id, credential_id, credential_type, action, target, outcome, client_address,
         request_id, details)
       VALUES (@at, @actor_id, @credential_id, @credential_type, @action, @target, @outcome, @client_address,
         @request_id, @details)`,
      row,
    )
  }

  /** A page of records after `afterSeq`, oldest first, matching every filter given. */
  page(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditRow[]> {
    const where = ['seq > @after']
    const params: Record<string, unknown> = { after: afterSeq, limit }
    const match = (column: string, name: keyof AuditFilter, op = '='): void => {
      if (filter[name] === undefined) return
      where.push(`${column} ${op} @${name}`)
      params[name] = filter[name]
    }
    match('at', 'since', '>=')
    match('actor_id', 'actor')
    match('action', 'action')
    match('target', 'target')
    return this.db.all<AuditRow>(
      `SELECT * FROM audit WHERE ${where.join(' AND ')} ORDER BY seq LIMIT @limit`,
      params,
    )
  }

  /** Deletes records older than `before` (microseconds); how many went. */
  async purge(before: number): Promise<number> {
    const { changes } = await this.db.run('DELETE FROM audit WHERE at < ?', [before])
    return changes
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }

  afterCommit(fn: () => void): void {
    this.db.afterCommit(fn)
  }
}
