/**
 * @module The dataplane's `RevocationSet` alone, in a fresh process with `--expose-gc`: the memory
 * its N entries keep once everything transient is collected, on the JS heap and in array
 * buffers (where its typed-array table lives). The JTIs arrive the way the snapshot delivers
 * them (parsed from JSON pages of the dataplane's page size), so the strings are the same kind a
 * dataplane holds. Complements the dataplane's RSS, which also counts the runtime and garbage
 * the collector has not returned yet.
 *
 * Run: `node --expose-gc --import tsx bench/revocation-set-memory.ts [N]`; prints one JSON line.
 */
import { RevocationSet } from '../dataplane/auth/revocation-set.ts'
import { SNAPSHOT_PAGE_SIZE as PAGE } from '../dataplane/sync/revocation-sync.ts'
import { fillerJti } from './lib/tokens.ts'

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const n = Number(process.argv[2] ?? 1_000_000)

gc()
const before = process.memoryUsage()
const set = new RevocationSet()
// As the dataplane's sync does from the first page's total_count.
set.reserve(n)
const expiresAt = Date.now() / 1000 + 30 * 86_400
for (let start = 0; start < n; start += PAGE) {
  const rows = Array.from({ length: Math.min(PAGE, n - start) }, (_, i) => ({ jti: fillerJti(start + i) }))
  const page = JSON.parse(JSON.stringify(rows)) as { jti: string }[]
  for (const r of page) set.add(r.jti, expiresAt)
}
gc()
const after = process.memoryUsage()
const retained = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers)
process.stdout.write(
  `${JSON.stringify({
    entries: set.size,
    retained_mb: retained / 1048576,
    heap_mb: (after.heapUsed - before.heapUsed) / 1048576,
    bytes_per_jti: retained / set.size,
  })}\n`,
)
