/**
 * @module The root key: the one secret everything else at rest is wrapped under. It comes from
 * `AGENTROUTER_ROOT_KEY` (base64 or hex of 32 bytes) or `AGENTROUTER_ROOT_KEY_FILE`; without
 * either, a development key is generated once into the data directory with mode 0600.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../shared/config.ts'
import { KEY_BYTES } from './seal.ts'

export interface RootKey {
  key: Buffer
  /** Where it came from, for the start-up log (never the key). */
  source: 'env' | 'file' | 'generated' | 'development-file'
  /** A non-secret fingerprint that tells whether two root keys are the same. */
  checkValue: string
}

export const DEV_ROOT_KEY_FILE = 'root.key'

export function loadRootKey(options: {
  value?: string | undefined
  file?: string | undefined
  dataDir: string
}): RootKey {
  if (options.value) return withCheck(decode(options.value, 'AGENTROUTER_ROOT_KEY'), 'env')
  if (options.file) {
    let text: string
    try {
      text = readFileSync(options.file, 'utf8')
    } catch (err) {
      throw new ConfigError(
        'AGENTROUTER_ROOT_KEY_FILE',
        `cannot read ${options.file}: ${(err as Error).message}`,
      )
    }
    return withCheck(decode(text.trim(), 'AGENTROUTER_ROOT_KEY_FILE'), 'file')
  }
  const path = join(options.dataDir, DEV_ROOT_KEY_FILE)
  if (existsSync(path)) return withCheck(decode(readFileSync(path, 'utf8').trim(), path), 'development-file')
  const key = randomBytes(KEY_BYTES)
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' })
  return withCheck(key, 'generated')
}

function decode(text: string, variable: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64')
  if (key.length !== KEY_BYTES) throw new ConfigError(variable, 'expected 32 bytes, base64- or hex-encoded')
  return key
}

function withCheck(key: Buffer, source: RootKey['source']): RootKey {
  const checkValue = createHmac('sha256', key)
    .update('agentrouter root key check')
    .digest('base64url')
    .slice(0, 16)
  return { key, source, checkValue }
}
