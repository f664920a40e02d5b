/**
 * @module The one place an error becomes a response, in the dialect of the route it answers:
 *
 * - `contract` (the dataplane's own endpoints, unknown routes): `{code, message, details}`.
 * - `openai` (`/openai/v1/*`, `/v1/*`): `{"error":{"message","type","param","code"}}`, `type` as
 *   OpenAI uses it (by status), `param` the field named by the first detail (else null), `code`
 *   the contract's code; what the official SDK reads into `err.type`, `err.code`, `err.param`.
 * - `anthropic` (`/anthropic/v1/*`): `{"type":"error","error":{"type","message"}}` with the
 *   type Anthropic's API documents for the status.
 *
 * The status is always the contract's. Anything that is not an `ApiError` is a bug, answered
 * `internal` without its text. Refusals the request path gives often are `PreparedError`s: their
 * three bodies and headers are built once, so refusing costs no JSON building per request.
 */
import type { ServerResponse } from 'node:http'
import { ApiError, ERROR_HTTP_STATUS, type ErrorCode, type ErrorDetail } from '../../shared/errors.ts'
import type { ErrorDialect } from '../proxy/providers/provider.ts'

export type Dialect = 'contract' | ErrorDialect

const DIALECTS: readonly Dialect[] = ['contract', 'openai', 'anthropic']

/** OpenAI's `type` for a status: its API answers every 5xx with `server_error`. */
export function openaiType(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 403) return 'permission_error'
  if (status === 429) return 'rate_limit_error'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

/**
 * Anthropic's `type` for a status, from its API's list (other 4xx are `invalid_request_error`;
 * 504 is the SDK's `timeout_error`; other 5xx `api_error`).
 */
export function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error'
    case 403:
      return 'permission_error'
    case 404:
      return 'not_found_error'
    case 413:
      return 'request_too_large'
    case 429:
      return 'rate_limit_error'
    case 504:
      return 'timeout_error'
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error'
  }
}

/** The JSON body of an error in a dialect. */
export function errorBody(
  dialect: Dialect,
  code: ErrorCode,
  message: string,
  details: readonly ErrorDetail[] = [],
  status: number = ERROR_HTTP_STATUS[code],
): string {
  switch (dialect) {
    case 'openai':
      return JSON.stringify({
        error: { message, type: openaiType(status), param: details[0]?.field ?? null, code },
      })
    case 'anthropic':
      return JSON.stringify({ type: 'error', error: { type: anthropicType(status), message } })
    default:
      return JSON.stringify({ code, message, details })
  }
}

type Headers = Readonly<Record<string, string | number>>

function errorHeaders(code: ErrorCode, body: string): Headers {
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  }
  if (code === 'unauthenticated') headers['www-authenticate'] = 'Bearer'
  return headers
}

/** An error whose response, in every dialect, is built once and sent many times. */
export class PreparedError {
  readonly code: ErrorCode
  readonly status: number
  readonly #bodies = new Map<Dialect, { body: Buffer; headers: Headers }>()

  constructor(code: ErrorCode, message: string, details: readonly ErrorDetail[] = []) {
    this.code = code
    this.status = ERROR_HTTP_STATUS[code]
    for (const dialect of DIALECTS) {
      const body = errorBody(dialect, code, message, details, this.status)
      this.#bodies.set(dialect, {
        body: Buffer.from(body),
        headers: Object.freeze(errorHeaders(code, body)),
      })
    }
  }

  send(res: ServerResponse, dialect: Dialect): void {
    if (!writable(res)) return
    const { body, headers } = this.#bodies.get(dialect)!
    res.writeHead(this.status, headers)
    res.end(body)
  }
}

function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('internal', 'internal error')
}

/** Writes an error response; a response already started is cut off instead (nothing else is honest). */
export function sendError(res: ServerResponse, err: unknown, dialect: Dialect = 'contract'): void {
  const e = toApiError(err)
  send(res, e.code, e.message, e.details, dialect)
}

export function send(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  details: ErrorDetail[] = [],
  dialect: Dialect = 'contract',
): void {
  if (!writable(res)) return
  const body = errorBody(dialect, code, message, details)
  res.writeHead(ERROR_HTTP_STATUS[code], errorHeaders(code, body))
  res.end(body)
}

function writable(res: ServerResponse): boolean {
  if (res.headersSent) {
    res.destroy()
    return false
  }
  return !res.destroyed
}

/**
 * A whole HTTP/1.1 error response, for a socket the HTTP parser gave up on (no `res` to write
 * with). `status` overrides the code's own only where HTTP has a more exact one (408 for a slow
 * client).
 */
export function rawErrorResponse(
  code: ErrorCode,
  message: string,
  status: number = ERROR_HTTP_STATUS[code],
  dialect: Dialect = 'contract',
): string {
  const body = errorBody(dialect, code, message, [], status)
  return (
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  )
}
