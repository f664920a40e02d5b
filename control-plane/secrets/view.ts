/**
 * @module The contract's view of a secret: metadata and version history, never a value. A
 * rotated-out version whose grace period has passed shows as `expired` even before the sweep
 * deletes its key material.
 */
import type { Secret } from '../../shared/contract/secrets.ts'
import { formatMicros } from '../../shared/time.ts'
import type { SecretRow, SecretVersionMeta, VersionStatus } from '../store/secrets.ts'

export function effectiveStatus(
  v: Pick<SecretVersionMeta, 'status' | 'expires_at'>,
  now: number,
): VersionStatus {
  if (v.status === 'rotated_pending' && v.expires_at !== null && v.expires_at <= now) return 'expired'
  return v.status
}

/** `rotated_pending` while a previous version is in its grace period, else `active`. */
export function secretStatus(versions: SecretVersionMeta[], now: number): VersionStatus {
  return versions.some((v) => effectiveStatus(v, now) === 'rotated_pending') ? 'rotated_pending' : 'active'
}

export function secretView(row: SecretRow, versions: SecretVersionMeta[], now: number): Secret {
  return {
    id: row.id,
    name: row.name,
    realm: row.realm,
    description: row.description,
    tags: JSON.parse(row.tags) as Record<string, string>,
    user_id: row.user_id,
    version: row.version,
    status: secretStatus(versions, now),
    versions: versions.map((v) => ({
      version: v.version,
      status: effectiveStatus(v, now),
      created_at: formatMicros(v.created_at),
      ...(v.expires_at === null ? {} : { expires_at: formatMicros(v.expires_at) }),
    })),
    created_at: formatMicros(row.created_at),
    updated_at: formatMicros(row.updated_at),
  }
}
