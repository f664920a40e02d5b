/**
 * The key, revocation, audit and admin suites, again with every control plane on a fresh PostgreSQL database (test/support/on-postgres.ts).
 * Left out of these files, to keep `npm test` short: suites about the HTTP layer alone (input
 * validation, CSRF, transport errors, names and numbers), whose storage is the same calls as the
 * suites re-run here, and those that are SQLite by nature (startup's file modes, at-rest markers,
 * tampering, crash, the login-flood timings).
 */
import { suitesOnPostgres } from '../support/on-postgres.ts'

suitesOnPostgres('the key, revocation, audit and admin suites on PostgreSQL', [
  'test/control-plane/admin-lists.test.ts',
  'test/control-plane/audit.test.ts',
  'test/control-plane/keys.test.ts',
  'test/control-plane/ops.test.ts',
  'test/control-plane/personas.test.ts',
  'test/control-plane/revocations.test.ts',
  'test/control-plane/service-accounts.test.ts',
  'test/control-plane/stream.test.ts',
])
