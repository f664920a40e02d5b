/**
 * @module A subscriber to the control plane's revocation stream for tests: connects with a
 * dataplane (or admin) key, keeps every message, acknowledges revocation cursors the way a
 * dataplane does, and waits for a message that matches.
 */
import WebSocket from 'ws'
import type { StreamServerMessage } from '../../shared/contract/tokens.ts'

export interface StreamListener {
  messages: StreamServerMessage[]
  /** Resolves with the first message (seen or to come) that matches; rejects after `timeoutMs`. */
  waitFor(match: (m: StreamServerMessage) => boolean, timeoutMs?: number): Promise<StreamServerMessage>
  close(): void
}

export async function listenToStream(
  baseUrl: string,
  key: string,
  name = 'test-listener',
  /** `false`: never acknowledges (a dataplane that has not applied what it was sent). */
  { ack = true }: { ack?: boolean } = {},
): Promise<StreamListener> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/tokens/revocations/stream?name=${encodeURIComponent(name)}`
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } })
  const messages: StreamServerMessage[] = []
  const waiters = new Set<{
    match: (m: StreamServerMessage) => boolean
    resolve: (m: StreamServerMessage) => void
  }>()
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as StreamServerMessage
    messages.push(message)
    if (ack && message.type === 'revocation') ws.send(JSON.stringify({ type: 'ack', cursor: message.cursor }))
    for (const w of waiters) {
      if (w.match(message)) {
        waiters.delete(w)
        w.resolve(message)
      }
    }
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    messages,
    waitFor(match, timeoutMs = 5_000) {
      const seen = messages.find(match)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (m: StreamServerMessage) => {
            clearTimeout(timer)
            resolve(m)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(
            new Error(`no matching stream message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`),
          )
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    close: () => ws.close(),
  }
}
