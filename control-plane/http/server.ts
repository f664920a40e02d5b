/**
 * @module The control plane's HTTP server: the Hono app behind `node:http`, with the contract's
 * JSON error body for everything refused before the app runs, never an empty reply. Node's parser
 * refusals keep the status Node would send (431 oversized headers, 400 malformed, 413 oversized
 * chunk extensions, 408 too slow); a request the adapter cannot turn into a URL (bad or missing
 * `Host`, a backslash in the path) is `invalid_argument` naming `Host` or `request`.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { getRequestListener, RequestError } from '@hono/node-server'
import { ApiError, type ErrorCode } from '../../shared/errors.ts'
import type { Logger } from '../../shared/logger.ts'
import { rawErrorResponse, toApiError } from './errors.ts'

/** How long a refused client may keep sending (drained, unread) before its socket is destroyed. */
const LINGER_MS = 2_000

type Fetch = (request: Request) => Response | Promise<Response>

export function createControlPlaneServer(fetch: Fetch, hostname: string, log: Logger): Server {
  const listener = getRequestListener(fetch, {
    hostname,
    errorHandler: (err) => jsonResponse(adapterError(err, log)),
  })
  // Node's own missing-Host refusal has no body: the Host is checked here instead.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const problem = hostProblem(req.headers.host, req.httpVersion)
    if (problem) {
      sendJson(res, new ApiError('invalid_argument', `Host: ${problem}`, [hostDetail(problem)]))
      return
    }
    void listener(req, res)
  })
  const answered = new WeakSet<Duplex>()
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Answered once: a later report for the same socket is left to the linger timer below.
    if (answered.has(socket)) return
    if (err.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
      socket.destroy()
      return
    }
    answered.add(socket)
    const { status, code, field, description } = parserError(err.code)
    socket.end(
      rawErrorResponse(new ApiError(code, `${field}: ${description}`, [{ field, description }]), status),
    )
    // Closing with unread input would reset the connection and could discard the answer: read and
    // drop what the client is still sending, for a bounded time.
    socket.resume()
    setTimeout(() => socket.destroy(), LINGER_MS).unref()
  })
  return server
}

interface ParserError {
  status: number
  code: ErrorCode
  field: string
  description: string
}

/** Node's own mapping (`_http_server.js`), with the contract's code for each. */
function parserError(code: string | undefined): ParserError {
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

/** A keep-alive socket already writing a response must not get a second one spliced into it. */
function responseStarted(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true
}

const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9._~!$&'()*+,;=%-]+)(:\d{1,5})?$/i

function hostProblem(host: string | undefined, httpVersion: string): string | undefined {
  if (host === undefined) return httpVersion === '1.0' ? undefined : 'required in HTTP/1.1'
  if (!AUTHORITY.test(host) || !URL.canParse(`http://${host}/`)) return 'not a valid host[:port]'
  return undefined
}

const hostDetail = (description: string) => ({ field: 'Host', description })

/** What the adapter refused while turning the request into a web `Request`, or threw from `fetch`. */
function adapterError(err: unknown, log: Logger): ApiError {
  if (!(err instanceof RequestError)) return toApiError(err, log, 'http adapter')
  const description = err.message.charAt(0).toLowerCase() + err.message.slice(1)
  if (/host/i.test(err.message))
    return new ApiError('invalid_argument', `Host: ${description}`, [hostDetail(description)])
  return new ApiError('invalid_argument', `request: ${description}`, [{ field: 'request', description }])
}

function jsonResponse(err: ApiError): Response {
  return Response.json(err.toBody(), { status: err.status })
}

function sendJson(res: ServerResponse, err: ApiError): void {
  const body = JSON.stringify(err.toBody())
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  })
  res.end(body)
}
