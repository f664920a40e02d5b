/**
 * @module Upstream error responses never carry the injected provider key back to the caller.
 * Some providers (and stand-ins) echo the credential they were sent in an error; the caller must
 * not learn the key its traffic runs on. Only non-2xx responses are looked at, so the success
 * path (and every stream) costs nothing.
 *
 * - Headers: any value holding the key has it replaced by the masked form.
 * - An unencoded body is scanned as it streams: each chunk is searched (`Buffer.indexOf`) after
 *   the bytes held back from the one before, and the last `key length − 1` bytes are held back in
 *   turn, so a key split across chunks is still found; memory is bounded by the key's length and
 *   every byte is searched once, whatever the body's size.
 * - A compressed body (`gzip`, `deflate`, `br`) is buffered (at most 64 KiB), decoded (at most
 *   256 KiB), masked and sent unencoded. One that is larger, corrupt, or in another encoding is
 *   withheld: the caller gets the upstream's status with the contract's error in its place.
 *
 * The masked form is `sk-...abcd`: the key's first three and last four characters (the last four
 * are what the AI-keys metadata show as `display_suffix`); a key under 12 characters is `...`.
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib'
import { codeForStatus } from '../../shared/errors.ts'

/** The most compressed error body buffered to be decoded and checked. */
export const MAX_ENCODED_ERROR_BYTES = 64 * 1024
/** The most a compressed error body may decode to. */
export const MAX_DECODED_ERROR_BYTES = 256 * 1024

export function maskedKey(secret: string): string {
  return secret.length >= 12 ? `${secret.slice(0, 3)}...${secret.slice(-4)}` : '...'
}

/**
 * A non-2xx response's headers (a flat `[name, value, …]` array) with the key masked, and the
 * masker for its body. `content-length` is dropped (masking changes the length), and
 * `content-encoding` too when the body is decoded. `secret` must not be empty.
 */
export function maskError(
  headers: readonly string[],
  secret: string,
): { headers: string[]; masker: ErrorBodyMasker } {
  let encoding: string | undefined
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'content-encoding') encoding = headers[i + 1]
  }
  const masker = new ErrorBodyMasker(secret, encoding)
  const masked = maskedKey(secret)
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase()
    if (name === 'content-length' || (masker.buffered && name === 'content-encoding')) continue
    const value = headers[i + 1]!
    out.push(headers[i]!, value.includes(secret) ? value.replaceAll(secret, masked) : value)
  }
  return { headers: out, masker }
}

/**
 * A buffered error's headers once its body is known: its length, and a JSON content type when
 * the upstream's body was withheld for the contract's error.
 */
export function bufferedErrorHeaders(headers: readonly string[], body: Buffer, withheld: boolean): string[] {
  const out: string[] = []
  for (let i = 0; i < headers.length; i += 2) {
    if (withheld && headers[i]!.toLowerCase() === 'content-type') continue
    out.push(headers[i]!, headers[i + 1]!)
  }
  if (withheld) out.push('content-type', 'application/json')
  if (body.length > 0) out.push('content-length', String(body.length))
  return out
}

/** The contract's error in place of an upstream error body that could not be checked. */
export function withheldBody(status: number, provider: string, reason: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      code: codeForStatus(status),
      message: `the ${provider} upstream answered ${status}; its body was withheld: ${reason}`,
      details: [{ description: reason, provider, status }],
    }),
  )
}

type Decode = (body: Buffer) => Buffer

const DECODERS: Record<string, Decode> = {
  gzip: (b) => gunzipSync(b, { maxOutputLength: MAX_DECODED_ERROR_BYTES }),
  'x-gzip': (b) => gunzipSync(b, { maxOutputLength: MAX_DECODED_ERROR_BYTES }),
  br: (b) => brotliDecompressSync(b, { maxOutputLength: MAX_DECODED_ERROR_BYTES }),
  // HTTP's `deflate` is zlib-wrapped, but some servers send it raw.
  deflate: (b) => {
    try {
      return inflateSync(b, { maxOutputLength: MAX_DECODED_ERROR_BYTES })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err
      return inflateRawSync(b, { maxOutputLength: MAX_DECODED_ERROR_BYTES })
    }
  },
}

/** One error body on its way to the caller, with the key replaced wherever it appears. */
export class ErrorBodyMasker {
  readonly #key: Buffer
  readonly #masked: Buffer
  /** Unencoded: bytes held back from the last chunk, which a key may continue from. */
  #carry: Buffer | undefined
  /** Encoded: the decoder, and the body buffered for it. */
  readonly #decode: Decode | undefined
  #encoded: Buffer[] = []
  #encodedBytes = 0
  /** Why the body cannot be checked (and so is withheld); undefined while it can. */
  #unusable: string | undefined

  /**
   * `contentEncoding` is the response's `content-encoding` (undefined or `identity`: none). When
   * `buffered` is true, nothing may be sent before `end()`: headers included, since the body's
   * length and encoding change.
   */
  readonly buffered: boolean

  constructor(secret: string, contentEncoding: string | undefined) {
    this.#key = Buffer.from(secret)
    this.#masked = Buffer.from(maskedKey(secret))
    const encoding = contentEncoding?.trim().toLowerCase()
    this.buffered = encoding !== undefined && encoding !== '' && encoding !== 'identity'
    if (this.buffered) {
      this.#decode = DECODERS[encoding!]
      if (!this.#decode) this.#unusable = `content-encoding ${encoding} is not one the dataplane decodes`
    }
  }

  /** What may be sent now of this chunk (unencoded bodies); nothing while buffering. */
  push(chunk: Buffer): Buffer | undefined {
    if (this.buffered) {
      if (this.#unusable) return undefined
      this.#encodedBytes += chunk.length
      if (this.#encodedBytes > MAX_ENCODED_ERROR_BYTES) {
        this.#unusable = `compressed body over ${MAX_ENCODED_ERROR_BYTES} bytes`
        this.#encoded = []
      } else this.#encoded.push(chunk)
      return undefined
    }
    const hold = this.#key.length - 1
    const data = this.#carry ? Buffer.concat([this.#carry, chunk]) : chunk
    // Everything before `safe` can no longer be the start of a key still arriving.
    const { out, next } = this.#replace(data, data.length - hold)
    this.#carry = next < data.length ? Buffer.from(data.subarray(next)) : undefined
    return out
  }

  /**
   * The rest of the body: the held-back tail (unencoded), or the whole decoded and masked body
   * (buffered). A string: the body could not be checked and must be withheld; it says why.
   */
  end(): Buffer | string {
    if (!this.buffered) {
      const tail = this.#carry ?? Buffer.alloc(0)
      this.#carry = undefined
      return this.#replace(tail, tail.length).out
    }
    if (this.#unusable) return this.#unusable
    if (this.#encodedBytes === 0) return Buffer.alloc(0)
    let decoded: Buffer
    try {
      decoded = this.#decode!(Buffer.concat(this.#encoded, this.#encodedBytes))
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
        ? `decoded body over ${MAX_DECODED_ERROR_BYTES} bytes`
        : 'compressed body could not be decoded'
    }
    this.#encoded = []
    return this.#replace(decoded, decoded.length).out
  }

  /**
   * `data` with every key that starts before `safe` masked; `out` is everything before `next`,
   * the first byte not yet sent (a key starting before `safe` is consumed whole).
   */
  #replace(data: Buffer, safe: number): { out: Buffer; next: number } {
    const key = this.#key
    let at = data.indexOf(key)
    if (at < 0 || at >= safe) {
      const next = Math.max(0, safe)
      return { out: next === data.length ? data : data.subarray(0, next), next }
    }
    const parts: Buffer[] = []
    let from = 0
    while (at >= 0 && at < safe) {
      parts.push(data.subarray(from, at), this.#masked)
      from = at + key.length
      at = data.indexOf(key, from)
    }
    const next = Math.max(from, safe)
    parts.push(data.subarray(from, next))
    return { out: Buffer.concat(parts), next }
  }
}
