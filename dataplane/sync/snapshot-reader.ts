/**
 * @module Reads the compact revocation snapshot (`GET /v1/tokens/revocations/snapshot`) straight
 * into the revocation set: the response body (gunzipped by fetch) goes through the incremental
 * decoder, room for the declared count is reserved first, and the entries are loaded in bulk as
 * they are read (`RevocationSet.bulkLoad`: no string or object per entry). The trailer is verified against the header and the bytes; a snapshot
 * that fails it is refused (the set then holds extra entries that are real revocations, nothing
 * less). A control plane without the endpoint (404, 405: an older one) answers `undefined`, for
 * the caller to page the JSON list instead.
 */
import { ApiError } from '../../shared/errors.ts'
import { SnapshotDecoder, type SnapshotInfo } from '../../shared/tokens/snapshot-format.ts'
import type { RevocationSet } from '../auth/revocation-set.ts'

export const SNAPSHOT_PATH = '/v1/tokens/revocations/snapshot'

export async function readCompactSnapshot(
  fetchFn: typeof fetch,
  url: string,
  key: string,
  set: RevocationSet,
  timeoutMs: number,
): Promise<SnapshotInfo | undefined> {
  const signal = AbortSignal.timeout(timeoutMs)
  let response: Response
  try {
    response = await fetchFn(url, {
      headers: { authorization: `Bearer ${key}`, 'accept-encoding': 'gzip' },
      signal,
    })
  } catch (err) {
    if (signal.aborted) throw new ApiError('deadline_exceeded', `GET ${SNAPSHOT_PATH}: timed out`)
    throw new ApiError(
      'unavailable',
      `GET ${SNAPSHOT_PATH}: ${(err as Error).cause ?? (err as Error).message}`,
    )
  }
  if (response.status === 404 || response.status === 405) {
    await response.body?.cancel()
    return undefined
  }
  if (!response.ok || !response.body) {
    const text = await response.text()
    let json: unknown = {}
    try {
      json = JSON.parse(text)
    } catch {}
    throw ApiError.fromBody(response.status, json)
  }
  const load = set.bulkLoad()
  const decoder = SnapshotDecoder.raw((info) => set.reserve(info.count), load.addBytes)
  for await (const chunk of response.body) {
    decoder.write(chunk)
    // Before anything else runs: a request must not be served from a cache the chunk made stale.
    load.flush()
  }
  load.end()
  return decoder.end()
}
