/**
 * @module The floor of a Node proxy hop: the fastest pass-through we could write with undici. It
 * buffers the (small) request body, swaps the credential for the provider key as any key-injecting
 * gateway must, and dispatches on a keep-alive pool with a raw undici handler: status and raw
 * headers go straight to `writeHead`, each body chunk straight to `write`, with backpressure and
 * cancellation. No auth, no routing, no metrics: whatever the dataplane costs above this is the
 * price of what it does.
 *
 * Run: `node --import tsx bench/bare-proxy.ts` with BENCH_UPSTREAM (origin) and
 * BENCH_UPSTREAM_KEY; prints `{"msg":"proxy listening","url":…}`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Dispatcher, Pool } from 'undici'

const upstream = process.env.BENCH_UPSTREAM ?? 'http://127.0.0.1:8000'
const providerAuth = `Bearer ${process.env.BENCH_UPSTREAM_KEY ?? 'sk-bench-upstream'}`
const pool = new Pool(upstream, { connections: 256, keepAliveTimeout: 60_000 })

/** Request headers a hop never forwards, plus the client's credential and host. */
const DROP_REQUEST = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'authorization',
  'x-api-key',
])
/** Response headers a hop never forwards (Node sets its own framing). */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'trailer'])

/** Relays one upstream response to `res`; the undici handler protocol with no wrapper layer. */
class Relay implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | undefined
  #resume: (() => void) | undefined
  #corked = false

  constructor(private readonly res: ServerResponse) {
    res.on('close', () => {
      if (!res.writableFinished) this.#abort?.(new Error('client went away'))
    })
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.#resume = resume
    const headers: string[] = []
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1')
      if (DROP_RESPONSE.has(name.toLowerCase())) continue
      headers.push(name, rawHeaders[i + 1]!.toString('latin1'))
    }
    this.res.writeHead(statusCode, headers)
    return true
  }

  onData(chunk: Buffer): boolean {
    // Chunks parsed from one upstream read arrive in the same tick: corking until the next tick
    // sends them in one write, without holding any of them back.
    if (!this.#corked) {
      this.#corked = true
      this.res.cork()
      process.nextTick(uncork, this)
    }
    if (this.res.write(chunk)) return true
    this.res.once('drain', this.#resume!)
    return false
  }

  onComplete(): void {
    this.res.end()
  }

  uncork(): void {
    this.#corked = false
    this.res.uncork()
  }

  onError(err: Error): void {
    if (this.res.headersSent) this.res.destroy(err)
    else this.res.writeHead(502, { 'content-type': 'application/json' }).end('{"code":"unavailable"}')
  }
}

function uncork(relay: Relay): void {
  relay.uncork()
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer | null): void {
  const raw = req.rawHeaders
  const headers: string[] = ['authorization', providerAuth]
  for (let i = 0; i < raw.length; i += 2) {
    if (!DROP_REQUEST.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!)
  }
  pool.dispatch(
    { method: req.method as Dispatcher.HttpMethod, path: req.url!, headers, body },
    new Relay(res),
  )
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.method === 'GET' || req.method === 'HEAD') {
    req.resume()
    forward(req, res, null)
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => forward(req, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
})

server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo
  process.stdout.write(`${JSON.stringify({ msg: 'proxy listening', url: `http://127.0.0.1:${port}` })}\n`)
})
process.on('SIGTERM', () => process.exit(0))
