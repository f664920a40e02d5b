/**
 * @module TokensService (agentrouter.tokens.v1): the revocation list, and the messages of its
 * WebSocket stream.
 */
import { z } from 'zod'
import { PlainText, QueryInteger, Timestamp } from './common.ts'

export const REVOCATION_KINDS = ['api_key', 'session', 'ai_key'] as const
export type RevocationKind = (typeof REVOCATION_KINDS)[number]

export const Revocation = z.object({
  jti: z.string(),
  kind: z.enum(REVOCATION_KINDS),
  revoked_at: Timestamp.describe('Strictly increasing: it is also the cursor of this entry'),
  expires_at: Timestamp.describe('When the revoked credential would have expired anyway'),
  reason: z.string(),
})
export type Revocation = z.infer<typeof Revocation>

export const RevocationListQuery = z.strictObject({
  since: Timestamp.optional().describe(
    'Exclusive: entries revoked after this cursor. Older than the purge horizon (expired entries purged after it): `failed_precondition` naming the horizon; take the snapshot',
  ),
  limit: QueryInteger(1, 100_000).optional().describe('At most this many; all when absent'),
})
/** The media type of the compact snapshot (`shared/tokens/snapshot-format.ts`). */
export const REVOCATION_SNAPSHOT_MEDIA_TYPE = 'application/vnd.agentrouter.revocation-snapshot'
export const RevocationSnapshotResponse = z
  .string()
  .describe(
    'Binary, `Content-Encoding: gzip`. Big-endian: the magic `ARS1`, the cursor (u64 microseconds: the log head when read; the next `since`) and the entry count (u32); per entry a u8 JTI length (1–255), the JTI (Latin-1) and its expiry in seconds (u32, 0xFFFFFFFF never); then a zero byte, the count and cursor again, and the CRC-32 of all bytes before it',
  )
export const RevocationListResponse = z.object({
  revocations: z.array(Revocation),
  snapshot_at: Timestamp.describe('High-water mark of what was returned: the next `since`'),
  total_count: z.number().int().describe('All entries after `since`, however many were returned'),
})
export type RevocationListResponse = z.infer<typeof RevocationListResponse>

/** `GET /v1/tokens/revocations/stream?since=` (WebSocket). */
export const RevocationStreamQuery = z.strictObject({
  since: Timestamp.optional(),
  name: PlainText.max(128).optional().describe('How the control plane names this dataplane'),
})

/** Messages the control plane sends on the stream, one JSON object per text frame. */
export type StreamServerMessage =
  | { type: 'hello'; dataplane_id: string; head: string }
  | { type: 'revocation'; cursor: string; revocation: Revocation }
  | { type: 'heartbeat'; head: string; time: string }
  /** The JWKS changed (a signing key was added or retired): fetch it again. */
  | { type: 'jwks_changed' }
  /** A secret's value changed: drop anything cached from it. */
  | { type: 'secret_changed'; realm: string; name: string; user_id: string }
  /**
   * A member left a project or changed role (no `user_id`: the whole project): drop the provider
   * keys cached for them there.
   */
  | { type: 'membership_changed'; customer_id: string; project_id: string; user_id?: string }

/** The most keys one usage report may carry (about 40 KB, under the stream's 64 KiB frame limit). */
export const USAGE_REPORT_MAX_KEYS = 1_000
/** The oldest use a report may give, in seconds; a dataplane reports older ones as this old. */
export const USAGE_REPORT_MAX_AGE_SECONDS = 86_400

/**
 * `{"type":"usage","keys":[[jti, age_seconds], …]}`: the API keys a dataplane served since its
 * last report, each with how long ago it last did. Only a dataplane key's stream may send it.
 */
export const UsageReport = z.strictObject({
  type: z.literal('usage'),
  keys: z
    .array(
      z.tuple([
        z.string().regex(/^key_[0-9A-HJKMNP-TV-Z]{26}$/, 'an API key id (key_…)'),
        z.number().int().min(0).max(USAGE_REPORT_MAX_AGE_SECONDS),
      ]),
    )
    .min(1)
    .max(USAGE_REPORT_MAX_KEYS),
})
export type UsageReport = z.infer<typeof UsageReport>

/** Messages a dataplane sends: the cursor it has applied, and the keys it served. */
export type StreamClientMessage = { type: 'ack'; cursor: string } | UsageReport
