/**
 * @module The contract's error model: one error class carrying a Connect-style code, and the one
 * table that maps each code to its HTTP status. Every component throws `ApiError` where a problem
 * is known and turns it into a response in exactly one place.
 */

export const ERROR_HTTP_STATUS = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  internal: 500,
  unavailable: 503,
  deadline_exceeded: 504,
} as const

export type ErrorCode = keyof typeof ERROR_HTTP_STATUS

/** One entry of `details`: which field was wrong and why, or any other structured hint. */
export interface ErrorDetail {
  field?: string
  description: string
  [extra: string]: unknown
}

/** The JSON body of every error response, in every component. */
export interface ErrorBody {
  code: ErrorCode
  message: string
  details: ErrorDetail[]
}

export class ApiError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: ErrorDetail[]

  constructor(code: ErrorCode, message: string, details: ErrorDetail[] = []) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = ERROR_HTTP_STATUS[code]
    this.details = details
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message, details: this.details }
  }

  /** Reads an error body received over HTTP back into an `ApiError`. */
  static fromBody(status: number, body: unknown): ApiError {
    if (isErrorBody(body)) return new ApiError(body.code, body.message, body.details ?? [])
    return new ApiError(codeForStatus(status), `HTTP ${status}`)
  }
}

/** The closest contract code for an HTTP status received from something that did not send one. */
export function codeForStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(ERROR_HTTP_STATUS)) if (s === status) return code as ErrorCode
  if (status >= 500) return 'internal'
  if (status >= 400) return 'invalid_argument'
  return 'internal'
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_HTTP_STATUS, value)
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    isErrorCode((value as ErrorBody).code) &&
    typeof (value as ErrorBody).message === 'string'
  )
}

export const invalidArgument = (field: string, description: string): ApiError =>
  new ApiError('invalid_argument', `${field}: ${description}`, [{ field, description }])
