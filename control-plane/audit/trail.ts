/**
 * @module The audit trail: who did what to what, when, from where, and with what outcome. A
 * record is written by `record` in the caller's transaction, so a change and its record commit
 * or vanish together (`change` opens that transaction around a change that has none). The JSON
 * log line of a record is written once it is committed. Never a secret value or a token: callers
 * pass ids and names, and `details` holds small facts (a role, a count).
 *
 * Who acts, the request id and the client's address come from the request context the HTTP layer
 * sets (`request-context.ts`); outside a request the actor is `system`.
 *
 * To audit a new kind of change (service accounts, say): inside the store transaction that makes
 * it, `await audit.record({ action: 'service_account.create', target: id, details })`; or wrap a
 * change that has no transaction: `await audit.change({ action, target }, () => store.insert(row))`.
 */
import type { AuditRecord } from '../../shared/contract/audit.ts'
import { invalidArgument } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { formatMicros, nowMicros, parseMicros, TIMESTAMP_RANGE } from '../../shared/time.ts'
import type { PageTokens } from '../crypto/page-token.ts'
import type { AuditFilter, AuditRow, AuditStore } from '../store/audit.ts'
import { type Actor, currentRequest, SYSTEM_ACTOR } from './request-context.ts'

export type AuditOutcome = AuditRecord['outcome']
export type AuditDetails = Record<string, string | number | boolean>

export interface AuditEvent {
  /** `noun.verb`: `key.issue`, `secret.rotate`, `membership.set`, … */
  action: string
  /** What it was done to: an id, or `realm/name` for a secret. */
  target: string
  /** Default `success`. */
  outcome?: AuditOutcome
  details?: AuditDetails
  /** Default: the current request's actor, else `system`. */
  actor?: Actor
  /** Default: the current request's. */
  clientAddress?: string
  requestId?: string
}

export interface AuditListRequest {
  since?: string | undefined
  actor?: string | undefined
  action?: string | undefined
  target?: string | undefined
  pageSize: number
  pageToken?: string | undefined
}

export class AuditTrail {
  readonly #store: AuditStore
  readonly #pageTokens: PageTokens
  readonly #log: Logger

  constructor(store: AuditStore, pageTokens: PageTokens, log: Logger) {
    this.#store = store
    this.#pageTokens = pageTokens
    this.#log = log
  }

  /** Writes one record in the caller's transaction (or alone, outside one). */
  async record(event: AuditEvent): Promise<void> {
    const request = currentRequest()
    const actor = event.actor ?? request?.actor ?? SYSTEM_ACTOR
    const row: Omit<AuditRow, 'seq'> = {
      at: nowMicros(),
      actor_id: actor.identityId,
      credential_id: actor.credentialId,
      credential_type: actor.credentialType,
      action: event.action,
      target: event.target,
      outcome: event.outcome ?? 'success',
      client_address: event.clientAddress ?? request?.clientAddress ?? '',
      request_id: event.requestId ?? request?.requestId ?? '',
      details: JSON.stringify(event.details ?? {}),
    }
    await this.#store.insert(row)
    this.#store.afterCommit(() =>
      this.#log.info('audit', {
        audit: {
          time: formatMicros(row.at),
          actor_id: row.actor_id,
          credential_id: row.credential_id,
          credential_type: row.credential_type,
          action: row.action,
          target: row.target,
          outcome: row.outcome,
          client_address: row.client_address,
          request_id: row.request_id,
          details: event.details ?? {},
        },
      }),
    )
  }

  /**
   * Runs `fn` in a transaction and, when it succeeds, writes the record in that same
   * transaction; `target` may be computed from what `fn` returned (the id it created).
   */
  change<T>(
    event: Omit<AuditEvent, 'target' | 'details'> & {
      target: string | ((result: T) => string)
      details?: AuditDetails | ((result: T) => AuditDetails)
    },
    fn: () => Promise<T>,
  ): Promise<T> {
    return this.#store.transaction(async () => {
      const result = await fn()
      const { target, details, ...rest } = event
      await this.record({
        ...rest,
        target: typeof target === 'function' ? target(result) : target,
        ...(details ? { details: typeof details === 'function' ? details(result) : details } : {}),
      })
      return result
    })
  }

  /** Runs `fn`, which writes several records, in one transaction. */
  batch<T>(fn: () => Promise<T>): Promise<T> {
    return this.#store.transaction(fn)
  }

  async list(request: AuditListRequest): Promise<{ records: AuditRecord[]; nextPageToken: string }> {
    const filter: AuditFilter = {
      since: request.since === undefined ? undefined : parseSince(request.since),
      actor: request.actor,
      action: request.action,
      target: request.target,
    }
    const after = request.pageToken
      ? afterOf(this.#pageTokens.decode<{ after: unknown }>('audit', request.pageToken).after)
      : 0
    const rows = await this.#store.page(filter, after, request.pageSize + 1)
    const more = rows.length > request.pageSize
    const page = more ? rows.slice(0, request.pageSize) : rows
    return {
      records: page.map(toWire),
      nextPageToken: more ? this.#pageTokens.encode('audit', { after: page.at(-1)!.seq }) : '',
    }
  }

  /** Deletes records older than the retention; how many went. */
  purge(retentionMs: number): Promise<number> {
    return this.#store.purge(nowMicros() - retentionMs * 1000)
  }

  /** Purges now, then every `everyMs`, until stopped. */
  startPurge(retentionMs: number, everyMs: number): { stop(): void } {
    const run = (): void => {
      this.purge(retentionMs)
        .then((purged) => {
          if (purged > 0) this.#log.info('audit records past the retention purged', { purged })
        })
        .catch((err) => this.#log.warn('purging old audit records failed', { err }))
    }
    run()
    const timer = setInterval(run, everyMs)
    timer.unref()
    return { stop: () => clearInterval(timer) }
  }
}

function parseSince(since: string): number {
  const micros = parseMicros(since)
  if (micros === undefined) throw invalidArgument('since', `must be an RFC 3339 timestamp ${TIMESTAMP_RANGE}`)
  return micros
}

function afterOf(after: unknown): number {
  if (typeof after !== 'number' || !Number.isSafeInteger(after)) {
    throw invalidArgument('page_token', 'is not a page token of this listing')
  }
  return after
}

function toWire(row: AuditRow): AuditRecord {
  return {
    id: String(row.seq),
    time: formatMicros(row.at),
    actor: {
      identity_id: row.actor_id,
      credential_id: row.credential_id,
      credential_type: row.credential_type,
    },
    action: row.action,
    target: row.target,
    outcome: row.outcome as AuditOutcome,
    client_address: row.client_address,
    request_id: row.request_id,
    details: JSON.parse(row.details) as AuditDetails,
  }
}
