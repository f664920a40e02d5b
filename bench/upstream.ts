/**
 * @module The benchmarks' upstream: a process that answers like OpenAI, as cheaply as Node can,
 * so that what is measured is the hop in front of it. `POST …/chat/completions` answers a fixed
 * completion (plain JSON), or with `"stream": true` an SSE stream of chunks each written on its
 * own; `GET …/models` answers a short list. A request without the expected provider key gets a
 * 401, so a proxy that drops or mangles the injected key shows up as errors, not as speed.
 *
 * Run: `node --import tsx bench/upstream.ts` with BENCH_UPSTREAM_KEY; prints
 * `{"msg":"upstream listening","url":…}`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const SSE_CHUNKS = 8

const expected = `Bearer ${process.env.BENCH_UPSTREAM_KEY ?? 'sk-bench-upstream'}`
const created = Math.floor(Date.now() / 1000)

const completion = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created,
    model: 'gpt-4o-mini',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello! How can I help you today?' },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
  }),
)
const models = Buffer.from(
  JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', owned_by: 'bench' }] }),
)
const denied = Buffer.from(
  JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }),
)
const chunk = (content: string | null, finish: string | null): string =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  })}\n\n`
const sseChunks = [
  ...Array.from({ length: SSE_CHUNKS }, (_, i) => chunk(`token${i} `, null)),
  chunk(null, 'stop'),
  'data: [DONE]\n\n',
].map((s) => Buffer.from(s))

const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': completion.length }
const MODELS_HEADERS = { 'content-type': 'application/json', 'content-length': models.length }
const DENIED_HEADERS = { 'content-type': 'application/json', 'content-length': denied.length }
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers.authorization !== expected) {
    req.resume()
    res.writeHead(401, DENIED_HEADERS).end(denied)
    return
  }
  if (req.method === 'GET') {
    req.resume()
    res.writeHead(200, MODELS_HEADERS).end(models)
    return
  }
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (s: string) => {
    body += s
  })
  req.on('end', () => {
    if (body.includes('"stream":true')) {
      res.writeHead(200, SSE_HEADERS)
      for (const c of sseChunks) res.write(c)
      res.end()
    } else {
      res.writeHead(200, JSON_HEADERS).end(completion)
    }
  })
}

const server = createServer({ keepAliveTimeout: 65_000 }, handle)
server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ msg: 'upstream listening', url: `http://127.0.0.1:${port}` })}\n`)
})
process.on('SIGTERM', () => process.exit(0))
