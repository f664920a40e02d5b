/**
 * The login, token and signing-key suites, again with every control plane on a fresh PostgreSQL database (test/support/on-postgres.ts).
 * Left out of these files, to keep `npm test` short: suites about the HTTP layer alone (input
 * validation, CSRF, transport errors, names and numbers), whose storage is the same calls as the
 * suites re-run here, and those that are SQLite by nature (startup's file modes, at-rest markers,
 * tampering, crash, the login-flood timings).
 */
import { suitesOnPostgres } from '../support/on-postgres.ts'

suitesOnPostgres('the login, token and signing-key suites on PostgreSQL', [
  'test/control-plane/signing-keys.test.ts',
  'test/control-plane/device-login.test.ts',
  'test/control-plane/bad-tokens.test.ts',
  'test/control-plane/dev-idp.test.ts',
  'test/control-plane/login.test.ts',
  'test/control-plane/scope-narrowing.test.ts',
])
