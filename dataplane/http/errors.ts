/**
 * @module The one place an error becomes a response: the contract's JSON body
 * `{code, message, details}` with the code's HTTP status. Anything that is not an `ApiError`
 * is a bug, answered `internal` without its text.
 */
import type { ServerResponse } from 'node:http'
import { ApiError, ERROR_HTTP_STATUS, type ErrorCode, type ErrorDetail } from '../../shared/errors.ts'

function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('internal', 'internal error')
}

/** Writes an error response; a response already started is cut off instead (nothing else is honest). */
export function sendError(res: ServerResponse, err: unknown): void {
  const e = toApiError(err)
  send(res, e.code, e.message, e.details)
}

/**
 * A whole HTTP/1.1 error response, for a socket the HTTP parser gave up on (no `res` exists).
 * `status` overrides the code's own only where HTTP has a more exact one (408 for a slow client).
 */
export function rawErrorResponse(
  code: ErrorCode,
  message: string,
  status: number = ERROR_HTTP_STATUS[code],
): string {
  const body = JSON.stringify({ code, message, details: [] })
  return (
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  )
}

export function send(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  details: ErrorDetail[] = [],
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  if (res.destroyed) return
  const body = JSON.stringify({ code, message, details })
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  }
  if (code === 'unauthenticated') headers['www-authenticate'] = 'Bearer'
  res.writeHead(ERROR_HTTP_STATUS[code], headers)
  res.end(body)
}
