/**
 * @module Loopback ports for tests: one that nothing listens on right now (an unreachable
 * upstream, or a port an operator would pick for a published service).
 */
import { createServer } from 'node:net'

/** A port on 127.0.0.1 that was free a moment ago: bound, read, released. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
