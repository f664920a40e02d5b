/**
 * @module A child process holding thousands of lightweight stream subscribers (see
 * fanout-fleet.ts, which starts it). Each subscriber is a raw TCP connection that speaks the
 * stream protocol: the WebSocket upgrade with the dataplane key, a minimal frame parser (the
 * server's frames are unmasked and never fragmented), a pong for every ping, and an ack for every
 * revocation, as a dataplane sends once it applied it. All subscribers of a process receive the
 * same bytes, so a message is parsed once per process (the last one is remembered) and the ack
 * frame built once, written to every socket; what a subscriber costs is little more than its
 * socket's read and write, so 10,000 of them fit on one core.
 *
 * The time each subscriber received a revocation is read from the monotonic clock
 * (`process.hrtime`, CLOCK_MONOTONIC, the same in every process of the machine), so the parent
 * can subtract the moment it sent the DELETE.
 *
 * IPC: the process says `{type: 'started'}`, the parent sends `{type: 'connect', urls, key, count, since, name}`; the process answers
 * `{type: 'connected'}` once every subscriber got its hello (or `{type: 'error', message}`), then
 * `{type: 'applied', jti, times}` each time all of them received a revocation.
 */
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

interface ConnectCommand {
  type: 'connect'
  urls: string[]
  key: string
  count: number
  since: string
  name: string
}

type Parent = (message: unknown) => void
const toParent: Parent = (message) => process.send?.(message)

const OP_TEXT = 0x1
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa
const HANDSHAKE_CONCURRENCY = 64

/** The milliseconds of the machine's monotonic clock. */
function monotonicMs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}

/** A client frame: masked (as RFC 6455 requires of clients) with the all-zero key, so the payload is as is. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length
  if (length > 125) throw new Error('fanout worker: client frames here are short')
  const frame = Buffer.alloc(6 + length)
  frame[0] = 0x80 | opcode
  frame[1] = 0x80 | length
  payload.copy(frame, 6)
  return frame
}

interface Parsed {
  payload: Buffer
  type: string
  /** For a revocation: its JTI and the ack frame to write back. */
  jti?: string
  ack?: Buffer
}

let lastParsed: Parsed | undefined
/** A payload is parsed once per process: every subscriber receives the same bytes. */
function parse(payload: Buffer): Parsed {
  if (lastParsed?.payload.equals(payload)) return lastParsed
  const message = JSON.parse(payload.toString()) as {
    type: string
    cursor?: string
    revocation?: { jti: string }
  }
  const parsed: Parsed = { payload: Buffer.from(payload), type: message.type }
  if (message.type === 'revocation' && message.cursor && message.revocation) {
    parsed.jti = message.revocation.jti
    parsed.ack = clientFrame(OP_TEXT, Buffer.from(JSON.stringify({ type: 'ack', cursor: message.cursor })))
  }
  lastParsed = parsed
  return parsed
}

/** Arrival times per JTI, one slot per subscriber; reported once all have it. */
const arrivals = new Map<string, { times: Float64Array; seen: Uint8Array; received: number }>()
let subscriberCount = 0

function received(index: number, jti: string, at: number): void {
  let entry = arrivals.get(jti)
  if (!entry) {
    entry = {
      times: new Float64Array(subscriberCount),
      seen: new Uint8Array(subscriberCount),
      received: 0,
    }
    arrivals.set(jti, entry)
  }
  if (entry.seen[index]) return
  entry.seen[index] = 1
  entry.times[index] = at
  if (++entry.received === subscriberCount) {
    arrivals.delete(jti)
    toParent({ type: 'applied', jti, times: Array.from(entry.times) })
  }
}

class RawSubscriber {
  readonly #socket: Socket
  #pending: Buffer | undefined
  #upgraded = false
  #onHello: (() => void) | undefined
  #onFail: ((err: Error) => void) | undefined

  constructor(
    readonly index: number,
    url: URL,
    key: string,
    since: string,
    name: string,
  ) {
    const path = `/v1/tokens/revocations/stream?since=${encodeURIComponent(since)}&name=${encodeURIComponent(name)}`
    this.#socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true })
    this.#socket.on('connect', () => {
      this.#socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
          `Authorization: Bearer ${key}\r\n\r\n`,
      )
    })
    this.#socket.on('data', (chunk: Buffer) => this.#data(chunk))
    this.#socket.on('error', (err) => this.#fail(err))
    this.#socket.on('close', () => {
      this.#fail(new Error('closed'))
      if (this.#upgraded) toParent({ type: 'error', message: `subscriber ${index} was disconnected` })
    })
  }

  /** Resolves on the hello. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#onHello = resolve
      this.#onFail = reject
    })
  }

  close(): void {
    this.#upgraded = false
    this.#socket.destroy()
  }

  #fail(err: Error): void {
    const fail = this.#onFail
    this.#onFail = undefined
    this.#onHello = undefined
    fail?.(err)
  }

  #data(chunk: Buffer): void {
    const at = monotonicMs()
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk
    this.#pending = undefined
    if (!this.#upgraded) {
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) {
        this.#pending = buf
        return
      }
      const head = buf.subarray(0, end).toString('latin1')
      if (!head.startsWith('HTTP/1.1 101')) {
        this.#fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`))
        this.#socket.destroy()
        return
      }
      this.#upgraded = true
      buf = buf.subarray(end + 4)
    }
    let offset = 0
    while (buf.length - offset >= 2) {
      const opcode = buf[offset]! & 0x0f
      let length = buf[offset + 1]! & 0x7f
      let header = 2
      if (length === 126) {
        if (buf.length - offset < 4) break
        length = buf.readUInt16BE(offset + 2)
        header = 4
      } else if (length === 127) {
        if (buf.length - offset < 10) break
        length = buf.readUInt32BE(offset + 6)
        header = 10
      }
      if (buf.length - offset < header + length) break
      this.#frame(opcode, buf.subarray(offset + header, offset + header + length), at)
      offset += header + length
    }
    if (offset < buf.length) this.#pending = Buffer.from(buf.subarray(offset))
  }

  #frame(opcode: number, payload: Buffer, at: number): void {
    if (opcode === OP_PING) {
      this.#socket.write(clientFrame(OP_PONG, payload))
      return
    }
    if (opcode === OP_CLOSE) {
      this.#socket.end(clientFrame(OP_CLOSE, payload.subarray(0, 2)))
      return
    }
    if (opcode !== OP_TEXT) return
    const message = parse(payload)
    if (message.type === 'hello') {
      const hello = this.#onHello
      this.#onHello = undefined
      this.#onFail = undefined
      hello?.()
    } else if (message.jti !== undefined && message.ack) {
      received(this.index, message.jti, at)
      this.#socket.write(message.ack)
    }
  }
}

const subscribers: RawSubscriber[] = []

async function connectAll(command: ConnectCommand): Promise<void> {
  subscriberCount = command.count
  const urls = command.urls.map((u) => new URL(u))
  let next = 0
  const lane = async () => {
    while (next < command.count) {
      const i = next++
      const sub = new RawSubscriber(
        i,
        urls[i % urls.length]!,
        command.key,
        command.since,
        `${command.name}-${i}`,
      )
      subscribers.push(sub)
      await sub.ready()
    }
  }
  await Promise.all(Array.from({ length: HANDSHAKE_CONCURRENCY }, lane))
}

process.on('message', (message: ConnectCommand | { type: 'close' }) => {
  if (message.type === 'connect') {
    connectAll(message).then(
      () => toParent({ type: 'connected' }),
      (err: Error) => toParent({ type: 'error', message: err.message }),
    )
  } else if (message.type === 'close') {
    for (const s of subscribers) s.close()
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
toParent({ type: 'started' })
