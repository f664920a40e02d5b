/**
 * @module Auth-check latency, in process, through the dataplane's real `AuthCheck` (with the
 * shared `TokenVerifier` and the dataplane's `RevocationSet`): a cached hit, a first-seen token
 * per algorithm (full verify), a revoked token and a malformed one, at 0, 100k and 1M revoked
 * JTIs. The floors run in the same process and the same run: raw `crypto.verify` per algorithm
 * on pre-decoded input, and a bare `Map.get` + `Set.has` for the cached path, against sets of
 * the same size.
 */
import { verify as cryptoVerify } from 'node:crypto'
import { importJWK, jwtVerify } from 'jose'
import { AuthCheck } from '../dataplane/auth/auth-check.ts'
import { RevocationSet } from '../dataplane/auth/revocation-set.ts'
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER } from '../shared/tokens/claims.ts'
import { TokenVerifier } from '../shared/tokens/verifier.ts'
import type { Budget } from './lib/budget.ts'
import type { Report } from './lib/report.ts'
import { opsPerSecond, sampleLatency, sampleLatencyPair } from './lib/sampler.ts'
import { type Distribution, summarize } from './lib/stats.ts'
import {
  ALGORITHMS,
  type Algorithm,
  fillerJti,
  generateSigningKey,
  type RawVerifyInput,
  rawVerifyInput,
  type SigningKey,
  signTokens,
} from './lib/tokens.ts'

/** Distinct tokens kept hot in the cache for the cached-hit case. */
const CACHED_POOL = 1_000
/** First-seen: a pool cycled through a cache smaller than it, so every check misses. */
const MISS_POOL = 128
const MISS_CACHE = 64
const REVOKED_POOL = 64
const SET_SIZES = [
  { label: '', size: 0 },
  { label: '_100k_revocations', size: 100_000 },
  { label: '_1m_revocations', size: 1_000_000 },
]
const MALFORMED = [
  'not-a-jwt',
  'eyJhbGciOiJSUzI1NiJ9.e30',
  'eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl.extra',
  'eyJ!!!.e30.c2ln',
  'bm90IGpzb24.e30.c2ln',
  '..',
]

const US = 'µs'

export async function benchAuth(report: Report, budget: Budget): Promise<void> {
  const fast = { samples: budget.quick ? 5_000 : 100_000, runs: budget.quick ? 1 : 5 }
  const slow = { samples: budget.quick ? 300 : 4_000, runs: budget.quick ? 1 : 5 }
  const opsMs = budget.quick ? 50 : 300

  const keys = {} as Record<Algorithm, SigningKey>
  for (const alg of ALGORITHMS) keys[alg] = await generateSigningKey(alg)
  const verifier = new TokenVerifier({ issuer: DEFAULT_TOKEN_ISSUER, audience: DEFAULT_TOKEN_AUDIENCE })
  await verifier.setKeySet({ keys: ALGORITHMS.map((a) => keys[a].jwk) })
  const revocations = new RevocationSet()
  const cached = new AuthCheck(verifier, revocations)
  const missing = new AuthCheck(verifier, revocations, { cacheSize: MISS_CACHE })

  const hot = await signTokens(keys.RS256, CACHED_POOL)
  const revoked = await signTokens(keys.RS256, REVOKED_POOL)
  const fresh = {} as Record<Algorithm, string[]>
  for (const alg of ALGORITHMS) fresh[alg] = await signTokens(keys[alg], MISS_POOL)

  // Every pool must get the answer it is meant to, or the figures measure the wrong path.
  for (const t of hot) expectOk(cached.check(t), 'cached token')
  for (const alg of ALGORITHMS) for (const t of fresh[alg]) expectOk(missing.check(t), `${alg} token`)
  const revokedJtis = revoked.map(jtiOf)
  for (const jti of revokedJtis) revocations.add(jti)
  for (const t of revoked) expectRefused(cached.check(t), 'revoked')
  for (const t of MALFORMED) expectRefused(cached.check(t), 'malformed')

  // The floors' data: the same hot tokens in a bare Map, the same JTIs in a bare Set.
  const floorMap = new Map(hot.map((t) => [t, { jti: jtiOf(t) }]))
  const floorSet = new Set<string>(revokedJtis)

  report.section('auth check (in process, dataplane AuthCheck)')
  // First-seen verify per algorithm and its crypto.verify floor.
  for (const alg of ALGORITHMS) {
    const pool = fresh[alg]
    const raw = pool.map((t) => rawVerifyInput(t, keys[alg]))
    const floorFn = (i: number) => rawVerify(raw[i % raw.length]!)
    const verifyFn = (i: number) => missing.check(pool[i % pool.length])
    const [floor, d] = sampleLatencyPair(floorFn, verifyFn, slow)
    const suffix = alg === 'RS256' ? '' : `_${alg.toLowerCase()}`
    if (alg === 'RS256') {
      report.add('auth_verify_floor_p50_us', floor.p50, US, {
        note: 'raw crypto.verify RS256, pre-decoded input',
      })
      report.add('auth_verify_p50_us', d.p50, US, {
        floor: floor.p50,
        note: 'RS256, the algorithm the control plane signs with',
      })
      report.add('auth_verify_p99_us', d.p99, US, { floor: floor.p99 })
      report.add('auth_verify_p999_us', d.p999, US, { floor: floor.p999 })
    } else {
      report.add(`auth_verify_floor_p50_us${suffix}`, floor.p50, US)
      report.add(`auth_verify_p50_us${suffix}`, d.p50, US, { floor: floor.p50 })
      report.add(`auth_verify_p99_us${suffix}`, d.p99, US, { floor: floor.p99 })
      report.add(`auth_verify_p999_us${suffix}`, d.p999, US, { floor: floor.p999 })
    }
    const floorOps = opsPerSecond(floorFn, opsMs, 3)
    report.add(`auth_verify_ops_per_s_${alg.toLowerCase()}`, opsPerSecond(verifyFn, opsMs, 3), 'ops/s', {
      floor: floorOps,
    })
  }

  // jose's async verify, for reference: what the synchronous verifier saves.
  const joseKey = await importJWK(keys.RS256.jwk, 'RS256')
  const joseD = await sampleAsync(
    (i) => jwtVerify(fresh.RS256[i % MISS_POOL]!, joseKey, { algorithms: ['RS256'] }),
    slow.samples,
  )
  report.add('auth_jose_jwtverify_p50_us', joseD.p50, US, {
    floor: report.get('auth_verify_floor_p50_us')!.value,
    note: 'reference: jose.jwtVerify (async), not used on the request path',
  })

  // Malformed: refused before any crypto.
  const malformedFn = (i: number) => cached.check(MALFORMED[i % MALFORMED.length])
  const mal = sampleLatency(malformedFn, fast)
  report.add('auth_malformed_p50_us', mal.p50, US)
  report.add('auth_malformed_p99_us', mal.p99, US, {
    note: 'refused by shape before any JSON.parse or crypto',
  })
  report.add('auth_malformed_p999_us', mal.p999, US)
  report.add('auth_malformed_ops_per_s', opsPerSecond(malformedFn, opsMs, 3), 'ops/s')

  // Cached and revoked at each revocation-set size.
  let filled = 0
  for (const { label, size } of SET_SIZES) {
    const expiresAt = Date.now() / 1000 + 86_400
    for (; filled < size; filled++) {
      const jti = fillerJti(filled)
      revocations.add(jti, expiresAt)
      floorSet.add(jti)
    }
    const floorFn = (i: number) => {
      const entry = floorMap.get(hot[i % CACHED_POOL]!)
      return entry !== undefined && !floorSet.has(entry.jti)
    }
    const cachedFn = (i: number) => cached.check(hot[i % CACHED_POOL])
    const [floor, hit] = sampleLatencyPair(floorFn, cachedFn, fast)
    if (!label) {
      report.add('auth_cached_floor_p99_us', floor.p99, US, { note: 'Map.get + Set.has' })
      report.add('auth_cached_p50_us', hit.p50, US, { floor: floor.p50 })
    }
    report.add(`auth_cached_p99_us${label}`, hit.p99, US, { floor: floor.p99 })
    report.add(`auth_cached_p999_us${label}`, hit.p999, US, { floor: floor.p999 })
    if (!label) {
      report.add('auth_cached_ops_per_s', opsPerSecond(cachedFn, opsMs, 3), 'ops/s', {
        floor: opsPerSecond(floorFn, opsMs, 3),
      })
    }
    const revokedFn = (i: number) => cached.check(revoked[i % REVOKED_POOL])
    const rev = sampleLatency(revokedFn, slow)
    // A revoked token presented again is remembered: refused without a verify. (Its first
    // presentation costs one full verify, as auth_verify_p50_us measures.)
    if (!label) {
      report.add('auth_revoked_p50_us', rev.p50, US, {
        floor: floor.p50,
        note: 'a revoked token presented again: remembered, no verify; floor Map.get + Set.has',
      })
    }
    report.add(`auth_revoked_p99_us${label}`, rev.p99, US, { floor: floor.p99 })
    if (!label) {
      report.add('auth_revoked_p999_us', rev.p999, US)
      report.add('auth_revoked_ops_per_s', opsPerSecond(revokedFn, opsMs, 3), 'ops/s', {
        floor: opsPerSecond(floorFn, opsMs, 3),
      })
    }
  }
  report.add('auth_revocation_set_size', revocations.size, 'JTIs')
}

function rawVerify(r: RawVerifyInput): boolean {
  return r.dsaEncoding
    ? cryptoVerify(r.digest, r.signed, { key: r.key, dsaEncoding: r.dsaEncoding }, r.signature)
    : cryptoVerify(r.digest, r.signed, r.key, r.signature)
}

async function sampleAsync(fn: (i: number) => Promise<unknown>, samples: number): Promise<Distribution> {
  for (let i = 0; i < 200; i++) await fn(i)
  const buf = new Float64Array(samples)
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now()
    await fn(i)
    buf[i] = (performance.now() - t0) * 1000
  }
  return summarize(buf)
}

function jtiOf(token: string): string {
  const payload = token.split('.')[1]!
  return (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { jti: string }).jti
}

function expectOk(outcome: { ok: boolean }, what: string): void {
  if (!outcome.ok) throw new Error(`auth benchmark: a ${what} was refused: ${JSON.stringify(outcome)}`)
}

function expectRefused(outcome: { ok: boolean; reason?: string }, reason: string): void {
  if (outcome.ok || outcome.reason !== reason) {
    throw new Error(`auth benchmark: expected "${reason}", got ${JSON.stringify(outcome)}`)
  }
}
