/**
 * @module What the control plane answers when Node's HTTP parser refuses a request before any
 * route sees it (headers too large, a malformed request, a request that took too long): the
 * contract's JSON error body with the status Node would have sent, never an empty reply.
 */
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { ApiError, type ErrorCode } from '../../shared/errors.ts'
import { rawErrorResponse } from './errors.ts'

/** How long a refused client may keep sending (drained, unread) before its socket is destroyed. */
const LINGER_MS = 2_000

interface TransportError {
  status: number
  code: ErrorCode
  field: string
  description: string
}

/** Node's own mapping (`_http_server.js`), with the contract's code for each. */
function transportError(code: string | undefined): TransportError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'invalid_argument',
        field: 'headers',
        description: 'larger than the server accepts',
      }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        code: 'invalid_argument',
        field: 'body',
        description: 'chunk extensions too large',
      }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'deadline_exceeded', field: 'request', description: 'not received in time' }
    default:
      return {
        status: 400,
        code: 'invalid_argument',
        field: 'request',
        description: 'malformed HTTP request',
      }
  }
}

export function answerTransportErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy()
      return
    }
    const e = transportError(err.code)
    const error = new ApiError(e.code, `${e.field}: ${e.description}`, [
      { field: e.field, description: e.description },
    ])
    socket.end(rawErrorResponse(error, e.status))
    // Closing with unread input would reset the connection and could discard the answer: read and
    // drop what the client is still sending, for a bounded time.
    socket.resume()
    setTimeout(() => socket.destroy(), LINGER_MS).unref()
  })
}
