/**
 * @module A TCP relay for partition tests: a dataplane reaches its control plane through it, and
 * the test can cut the link (every connection dropped, new ones refused) and restore it, while
 * the control plane itself keeps serving everyone else.
 */
import { connect, createServer, type Socket } from 'node:net'

export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  url: string
  cut(): void
  restore(): void
  close(): Promise<void>
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl)
  const open = new Set<Socket>()
  let cut = false
  const server = createServer((client) => {
    if (cut) {
      client.destroy()
      return
    }
    const upstream = connect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      open.add(s)
      s.on('close', () => open.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      cut = true
      for (const s of open) s.destroy()
    },
    restore() {
      cut = false
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy()
        server.close(() => resolve())
      }),
  }
}
