/**
 * @module One HTTP request with `node:http`, for tests that need the path sent exactly as written
 * (`fetch` resolves dot segments and re-encodes) and every byte of the answer, headers included.
 */
import { request } from 'node:http'

export interface RawResult {
  status: number
  /** Header names and values as received, in order. */
  rawHeaders: string[]
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  json: any
}

export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<RawResult> {
  const { hostname, port } = new URL(baseUrl)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers, agent: false })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const data = Buffer.concat(chunks)
        let json: unknown
        try {
          json = JSON.parse(data.toString())
        } catch {
          json = undefined
        }
        resolve({
          status: res.statusCode ?? 0,
          rawHeaders: res.rawHeaders,
          headers: res.headers,
          body: data,
          json,
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}
