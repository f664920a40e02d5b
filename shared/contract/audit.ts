/**
 * @module The audit trail's wire form: `GET /v1/admin/audit`.
 */
import { z } from 'zod'
import { PageInfo, PageQuery, PlainText, Timestamp } from './common.ts'

export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const

export const AuditRecord = z.object({
  id: z.string().describe('Increases with every record: the order they were written in'),
  time: Timestamp,
  actor: z.object({
    identity_id: z.string().describe('usr_…, or `system` for the control plane itself'),
    credential_id: z.string().describe('The credential used (key_… or ses_…); never the token'),
    credential_type: z.string().describe('KEY_TYPE_…, session, or system'),
  }),
  action: z.string().describe('What was done, e.g. key.issue, secret.rotate, membership.set'),
  target: z.string().describe('What it was done to: an id, or realm/name for a secret'),
  outcome: z.enum(AUDIT_OUTCOMES),
  client_address: z.string(),
  request_id: z.string().describe('The X-Request-Id of the request; empty for the control plane’s own work'),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
})
export type AuditRecord = z.infer<typeof AuditRecord>

export const ListAuditQuery = PageQuery.extend({
  since: z.string().min(1).max(64).optional().describe('RFC 3339: records at or after this time'),
  actor: PlainText.min(1).max(128).optional().describe('Only records of this identity (usr_…)'),
  action: PlainText.min(1).max(64).optional().describe('Only records of this action'),
  target: PlainText.min(1).max(512).optional().describe('Only records about this target'),
})
export const ListAuditResponse = z.object({ records: z.array(AuditRecord), page: PageInfo })
