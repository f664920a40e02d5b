/**
 * @module Envelope encryption of one secret version: a fresh 256-bit data key seals the value
 * (AES-256-GCM, random 96-bit nonce, via `crypto/seal.ts`), and the active KEK wraps the data
 * key. Both seals carry AAD naming the secret id, version, realm and owner, so a ciphertext or
 * wrapped key copied to another row, version or owner fails to open.
 */
import { randomBytes } from 'node:crypto'
import { KEY_BYTES, open, SealError, seal } from '../crypto/seal.ts'
import { KekUnavailable, type KeyEncryptionKeys } from './keks.ts'

/** What a version's ciphertext is bound to. */
export interface VersionBinding {
  secretId: string
  version: number
  realm: string
  userId: string
}

export interface SealedVersion {
  kekId: string
  wrappedDataKey: Buffer
  ciphertext: Buffer
}

/** Why a version could not be decrypted: safe to show to an operator (no key material, no value). */
export class Unreadable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'Unreadable'
  }
}

const aad = (purpose: string, b: VersionBinding): string =>
  JSON.stringify([purpose, b.secretId, b.version, b.realm, b.userId])

export function sealVersion(keks: KeyEncryptionKeys, binding: VersionBinding, value: Buffer): SealedVersion {
  const kek = keks.active()
  const dataKey = randomBytes(KEY_BYTES)
  try {
    return {
      kekId: kek.id,
      wrappedDataKey: seal(kek.key, dataKey, aad('data-key', binding)),
      ciphertext: seal(dataKey, value, aad('secret-value', binding)),
    }
  } finally {
    dataKey.fill(0)
  }
}

export function openVersion(
  keks: KeyEncryptionKeys,
  binding: VersionBinding,
  sealed: Partial<SealedVersion>,
): Buffer {
  const dataKey = unwrapDataKey(keks, binding, sealed)
  try {
    return open(dataKey, sealed.ciphertext!, aad('secret-value', binding))
  } catch (err) {
    if (!(err instanceof SealError)) throw err
    throw new Unreadable(
      `the ciphertext of version ${binding.version} does not open under its data key: it was altered, or moved from another secret or version`,
    )
  } finally {
    dataKey.fill(0)
  }
}

/** The data key re-wrapped under the KEK `toKekId`; the value itself is not touched. */
export function rewrapDataKey(
  keks: KeyEncryptionKeys,
  binding: VersionBinding,
  sealed: Partial<SealedVersion>,
  toKekId: string,
): Buffer {
  const dataKey = unwrapDataKey(keks, binding, sealed)
  try {
    return seal(keks.key(toKekId), dataKey, aad('data-key', binding))
  } finally {
    dataKey.fill(0)
  }
}

function unwrapDataKey(
  keks: KeyEncryptionKeys,
  binding: VersionBinding,
  sealed: Partial<SealedVersion>,
): Buffer {
  if (!sealed.kekId || !sealed.wrappedDataKey || !sealed.ciphertext) {
    throw new Unreadable(`version ${binding.version} has no key material: it expired and was deleted`)
  }
  let kek: Buffer
  try {
    kek = keks.key(sealed.kekId)
  } catch (err) {
    if (err instanceof KekUnavailable) throw new Unreadable(err.message)
    throw err
  }
  try {
    return open(kek, sealed.wrappedDataKey, aad('data-key', binding))
  } catch (err) {
    if (!(err instanceof SealError)) throw err
    throw new Unreadable(
      `the data key of version ${binding.version} does not open under ${sealed.kekId}: it was altered, or moved from another secret or version`,
    )
  }
}
