/**
 * The secrets suites and the dataplane's compact snapshot and purge recovery (whose control plane is what differs), again with every control plane on a fresh PostgreSQL database (test/support/on-postgres.ts).
 * Left out of these files, to keep `npm test` short: suites about the HTTP layer alone (input
 * validation, CSRF, transport errors, names and numbers), whose storage is the same calls as the
 * suites re-run here, and those that are SQLite by nature (startup's file modes, at-rest markers,
 * tampering, crash, the login-flood timings).
 */
import { suitesOnPostgres } from '../support/on-postgres.ts'

suitesOnPostgres('the secrets and snapshot suites on PostgreSQL', [
  'test/secrets/bad-input.test.ts',
  'test/secrets/rotation.test.ts',
  'test/secrets/secrets-api.test.ts',
  'test/secrets/system-realms.test.ts',
  'test/dataplane/compact-snapshot.test.ts',
  'test/dataplane/revocation-purge.test.ts',
])
