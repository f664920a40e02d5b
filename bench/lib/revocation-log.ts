/**
 * @module The control plane's revocation log at scale, for the scale benchmark and the profiles:
 * filled with live entries straight into SQLite before the control plane starts (the schema its
 * own migrations create), and read back page by page as a starting dataplane reads it.
 */
import { migrate } from '../../control-plane/store/migrate.ts'
import { openSqlite } from '../../control-plane/store/sqlite.ts'
import { SNAPSHOT_PAGE_SIZE } from '../../dataplane/sync/revocation-sync.ts'
import type { Client } from '../../shared/client/index.ts'
import { formatMicros, nowMicros } from '../../shared/time.ts'
import { fillerJti } from './tokens.ts'

/**
 * Fills the revocation log in `dataDir` with `rows` live entries, oldest first; answers the first
 * entry's cursor (the others follow it by 1 µs each).
 */
export async function insertRevocations(dataDir: string, rows: number): Promise<number> {
  const sql = openSqlite(dataDir)
  await migrate(sql)
  const db = sql.handle
  try {
    const now = nowMicros()
    const first = now - rows - 60_000_000
    const expiresAt = now + 30 * 86_400_000_000
    const insert = db.prepare(
      "INSERT INTO revocations (jti, kind, revoked_at, expires_at, reason) VALUES (?, 'api_key', ?, ?, 'bench')",
    )
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run(fillerJti(i), first + i, expiresAt)
      // The log's head moves past what was put in, as an append would move it.
      db.prepare('UPDATE log_head SET cursor = MAX(cursor, ?) WHERE id = 1').run(first + rows - 1)
    })()
    // Everything in the main file, so that the directory can be copied as it is.
    db.pragma('wal_checkpoint(TRUNCATE)')
    return first
  } finally {
    await sql.close()
  }
}

/** Reads the whole list in the dataplane's pages, as its sync does at start; answers the entries read. */
export async function readPagedSnapshot(client: Client): Promise<number> {
  let since = formatMicros(0)
  let total = 0
  for (;;) {
    const page = await client.tokens.getRevocationList({ since, limit: SNAPSHOT_PAGE_SIZE })
    total += page.revocations.length
    since = page.snapshot_at
    if (page.revocations.length < SNAPSHOT_PAGE_SIZE) return total
  }
}
