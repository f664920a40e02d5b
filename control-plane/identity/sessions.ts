/**
 * @module Sessions: opened at the end of an OIDC login, closed by logout, which revokes the
 * session's JTI so that every dataplane drops it too.
 */

import { newId } from '../../shared/ids.ts'
import { nowMicros } from '../../shared/time.ts'
import type { AuditTrail } from '../audit/trail.ts'
import type { RevocationLog } from '../revocations/log.ts'
import type { TokenIssuer } from '../signing/token-issuer.ts'
import type { CredentialStore } from '../store/credentials.ts'
import type { IdentityRow } from '../store/tenancy.ts'

export class Sessions {
  constructor(
    private readonly store: CredentialStore,
    private readonly tokens: TokenIssuer,
    private readonly revocations: RevocationLog,
    private readonly ttlMs: number,
    private readonly audit: AuditTrail,
  ) {}

  async open(identity: IdentityRow): Promise<{ id: string; token: string; expiresAt: number }> {
    const id = newId('session')
    const now = nowMicros()
    const issued = await this.tokens.session(identity, id, now, now + this.ttlMs * 1000)
    // The caller was anonymous until now: the login is the new session's own act.
    const actor = { identityId: identity.id, credentialId: id, credentialType: 'session' }
    await this.audit.change({ action: 'session.login', target: identity.id, actor }, () =>
      this.store.insertSession({
        id,
        identity_id: identity.id,
        created_at: now,
        expires_at: issued.expiresAt,
      }),
    )
    return { id, token: issued.token, expiresAt: issued.expiresAt }
  }

  /** Revokes the session; answers with the revocation's cursor. */
  async close(sessionId: string, expiresAtSec: number): Promise<number> {
    const { row } = await this.revocations.revoke(
      { jti: sessionId, kind: 'session', expiresAt: expiresAtSec * 1e6, reason: 'logged out' },
      async (revokedAt) => {
        await this.store.markSessionRevoked(sessionId, revokedAt)
        await this.audit.record({ action: 'session.logout', target: sessionId })
      },
    )
    return row.revoked_at
  }
}
