/**
 * @module A local LLM upstream for tests: speaks enough of OpenAI's chat completions and
 * Anthropic's messages (plain JSON and SSE streaming) for the official SDKs, records every
 * request it received (headers included), and can be told to misbehave: answer 500, stall
 * before answering, or stream slowly. Behaviour is chosen per request by the
 * `x-upstream-behaviour` header (it travels through the dataplane like any client header).
 *
 * Behaviours: `normal`, `error500`, `stall` (never answers), `stall-body` (headers, then
 * nothing), `slow` (stream one event per `x-upstream-interval-ms`, default 150 ms), `echo-key`
 * (answer `x-upstream-status`, default 401, with the credential it received, as some providers
 * do: in the body's message and in an `x-echoed-key` header; `x-upstream-pad` bytes of padding
 * around it, the body written in two parts split at byte `x-upstream-split-at` 50 ms apart, and
 * compressed with `x-upstream-encoding`: gzip, deflate, br or anything else, sent as is).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'

export type Behaviour = 'normal' | 'error500' | 'stall' | 'stall-body' | 'slow' | 'echo-key'

export interface ReceivedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  /** Epoch ms at which each streamed event was written. */
  sentAt: number[]
  /** The response ended before it was complete: the caller went away. */
  aborted: boolean
  finished: boolean
}

export interface TestUpstream {
  url: string
  requests: ReceivedRequest[]
  /** Sockets open on the upstream right now. */
  openSockets(): number
  close(): Promise<void>
}

export const WORDS = ['Hello', ' from', ' the', ' local', ' upstream', '!']

export async function startUpstream(): Promise<TestUpstream> {
  const requests: ReceivedRequest[] = []
  const sockets = new Set<Socket>()

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const record: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        sentAt: [],
        aborted: false,
        finished: false,
      }
      requests.push(record)
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true
      })
      res.on('finish', () => {
        record.finished = true
      })
      const mode = (req.headers['x-upstream-behaviour'] as Behaviour | undefined) ?? 'normal'
      const interval = Number(req.headers['x-upstream-interval-ms'] ?? 150)
      answer(record, res, mode, interval)
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    openSockets: () => sockets.size,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

function answer(record: ReceivedRequest, res: ServerResponse, mode: Behaviour, intervalMs: number): void {
  if (mode === 'stall') return
  if (mode === 'echo-key') {
    echoKey(record, res)
    return
  }
  if (mode === 'error500') {
    const body = JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error' } })
    res.writeHead(500, { 'content-type': 'application/json', 'x-upstream-marker': 'yes' })
    res.end(body)
    return
  }
  const anthropic = record.path.startsWith('/v1/messages')
  const openai = record.path.startsWith('/v1/chat/completions')
  if (!anthropic && !openai) {
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `no route ${record.path}` } }))
    return
  }
  let request: { stream?: boolean; model?: string }
  try {
    request = JSON.parse(record.body || '{}')
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'bad JSON' } }))
    return
  }
  const model = request.model ?? 'test-model'
  if (!request.stream && mode !== 'stall-body') {
    const body = JSON.stringify(anthropic ? anthropicMessage(model) : openaiCompletion(model))
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream-marker': 'yes' })
    res.end(body)
    return
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
  res.flushHeaders()
  if (mode === 'stall-body') return
  const events = anthropic ? anthropicEvents(model) : openaiEvents(model)
  const delay = mode === 'slow' ? intervalMs : 0
  let i = 0
  const next = () => {
    if (res.destroyed) return
    if (i === events.length) {
      res.end()
      return
    }
    record.sentAt.push(Date.now())
    res.write(events[i++])
    if (delay) setTimeout(next, delay)
    else setImmediate(next)
  }
  next()
}

/** The credential the upstream received, echoed back the way a careless provider would. */
function echoKey(record: ReceivedRequest, res: ServerResponse): void {
  const h = record.headers
  const key = String(h['x-api-key'] ?? String(h.authorization ?? '').replace(/^Bearer /, ''))
  const pad = 'p'.repeat(Number(h['x-upstream-pad'] ?? 0))
  let body = Buffer.from(
    JSON.stringify({
      error: {
        message: `${pad}Incorrect API key provided: ${key}.${pad}`,
        type: 'invalid_request_error',
        key,
      },
    }),
  )
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-echoed-key': `key=${key}` }
  const encoding = h['x-upstream-encoding'] as string | undefined
  if (encoding) {
    headers['content-encoding'] = encoding
    const encode = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }[encoding]
    if (encode) body = encode(body)
  }
  headers['content-length'] = String(body.length)
  res.writeHead(Number(h['x-upstream-status'] ?? 401), headers)
  const split = Number(h['x-upstream-split-at'] ?? 0)
  if (split <= 0 || split >= body.length) {
    res.end(body)
    return
  }
  res.write(body.subarray(0, split))
  setTimeout(() => res.end(body.subarray(split)), 50)
}

function openaiCompletion(model: string) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: WORDS.join('') },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 5, completion_tokens: WORDS.length, total_tokens: 5 + WORDS.length },
  }
}

function openaiEvents(model: string): string[] {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    })}\n\n`
  return [
    chunk({ role: 'assistant', content: '' }, null),
    ...WORDS.map((w) => chunk({ content: w }, null)),
    chunk({}, 'stop'),
    'data: [DONE]\n\n',
  ]
}

function anthropicMessage(model: string) {
  return {
    id: 'msg_test',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: WORDS.join('') }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: WORDS.length },
  }
}

function anthropicEvents(model: string): string[] {
  const event = (type: string, data: object) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
  return [
    event('message_start', {
      message: {
        ...anthropicMessage(model),
        content: [],
        stop_reason: null,
        usage: { input_tokens: 5, output_tokens: 0 },
      },
    }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ...WORDS.map((w) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: w } })),
    event('content_block_stop', { index: 0 }),
    event('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: WORDS.length },
    }),
    event('message_stop', {}),
  ]
}
