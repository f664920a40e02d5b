/**
 * @module A revocation log filled with live entries before a control plane reads it, on the engine
 * the test process runs (`AGENTROUTER_TEST_ENGINE`): SQLite straight into the data directory's
 * file (as the benchmarks do), PostgreSQL into the data directory's database. PostgreSQL's
 * database exists once a control plane has started on the directory: fill, then restart it.
 */
import pg from 'pg'
import { insertRevocations } from '../../bench/lib/revocation-log.ts'
import { fillerJti } from '../../bench/lib/tokens.ts'
import { nowMicros } from '../../shared/time.ts'
import { postgresUrlFor, TEST_ENGINE } from './control-plane.ts'

/** Fills `rows` entries expiring in 30 days, their cursors 1 µs apart and all in the past. */
export async function fillRevocations(dataDir: string, rows: number): Promise<void> {
  if (TEST_ENGINE === 'sqlite') {
    await insertRevocations(dataDir, rows)
    return
  }
  const url = postgresUrlFor(dataDir)
  if (!url) throw new Error(`no PostgreSQL database for ${dataDir} yet: start a control plane on it first`)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const now = nowMicros()
    const first = now - rows - 60_000_000
    const jtis = Array.from({ length: rows }, (_, i) => fillerJti(i))
    await client.query('BEGIN')
    await client.query(
      `INSERT INTO revocations (jti, kind, revoked_at, expires_at, reason)
         SELECT j, 'api_key', $2::bigint + i - 1, $3::bigint, 'bench' FROM unnest($1::text[]) WITH ORDINALITY AS t(j, i)`,
      [jtis, first, now + 30 * 86_400_000_000],
    )
    await client.query('UPDATE log_head SET cursor = GREATEST(cursor, $1::bigint) WHERE id = 1', [
      first + rows - 1,
    ])
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
}
