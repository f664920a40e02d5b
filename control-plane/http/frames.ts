/**
 * @module One text message, serialised and framed once, written to many WebSockets. `ws.send`
 * measures, frames and encodes its string for every socket; a broadcast to 10,000 subscribers
 * would do that 10,000 times. Here the payload is encoded once and the frame (RFC 6455: FIN,
 * text opcode, unmasked as a server's frames are, no RSV bits) is built once, and the same
 * Buffer is written to every socket.
 *
 * `ws` has no public call that writes a ready frame, so this is the one place that reaches into
 * its internals (checked against ws 8.x by test/control-plane/frames.test.ts): a socket's
 * `_sender.sendFrame([frame])` is what `ws.send` itself ends with. It is used only while the
 * sender is idle (nothing queued, which with permessage-deflate off is always) and no extension
 * was negotiated; otherwise, or if the internals are not as expected, the documented
 * `ws.send(payload)` with the encoded Buffer is used, which still skips the per-socket encoding.
 * Either way the bytes go through the socket's own write queue, so `bufferedAmount` counts them
 * and the stream's bounded-buffer rule holds.
 */
import type { WebSocket } from 'ws'

const FIN_TEXT = 0x81

export interface PreparedMessage {
  /** The UTF-8 payload, for the documented fallback. */
  readonly payload: Buffer
  /** Header and payload in one Buffer: what goes on the wire. */
  readonly frame: Buffer
}

/** Encodes `text` and frames it as one unmasked, final text frame. */
export function prepareText(text: string): PreparedMessage {
  const length = Buffer.byteLength(text)
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + length)
  frame[0] = FIN_TEXT
  if (length < 126) {
    frame[1] = length
  } else if (length < 65_536) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(0, 2)
    frame.writeUInt32BE(length, 6)
  }
  frame.write(text, headerLength, 'utf8')
  return { frame, payload: frame.subarray(headerLength) }
}

/** The parts of ws 8's internals this module relies on. */
interface WsInternals {
  _sender?: { _state?: unknown; _queue?: unknown; sendFrame?: unknown }
  _socket?: unknown
  _extensions?: Record<string, unknown>
}

/** Whether a prepared frame can be written to `ws` as it is (the fast path). */
export function canWriteFramed(ws: WebSocket): boolean {
  const internals = ws as unknown as WsInternals
  const sender = internals._sender
  return (
    sender !== undefined &&
    sender !== null &&
    typeof sender.sendFrame === 'function' &&
    sender._state === 0 &&
    Array.isArray(sender._queue) &&
    sender._queue.length === 0 &&
    internals._socket !== undefined &&
    internals._socket !== null &&
    internals._extensions !== undefined &&
    isEmpty(internals._extensions)
  )
}

/** Without allocating: this runs once per socket per broadcast. */
function isEmpty(object: Record<string, unknown>): boolean {
  for (const _ in object) return false
  return true
}

/** Writes `message` to an open socket: the shared frame when possible, else through `ws.send`. */
export function sendPrepared(ws: WebSocket, message: PreparedMessage): void {
  if (canWriteFramed(ws)) {
    const sender = (ws as unknown as { _sender: { sendFrame(list: Buffer[]): void } })._sender
    sender.sendFrame([message.frame])
  } else {
    ws.send(message.payload, { binary: false, compress: false })
  }
}
