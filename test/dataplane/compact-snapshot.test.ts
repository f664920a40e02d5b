import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { SESSION_COOKIE } from '../../shared/tokens/bearer.ts'
import { SnapshotDecoder } from '../../shared/tokens/snapshot-format.ts'
import { startControlPlane, TEST_ENGINE, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { chat } from '../support/inference.ts'
import { tempDir } from '../support/process.ts'
import { fillRevocations } from '../support/revocation-fill.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const FILLED = 20_000

/** An older control plane: everything forwarded, except the snapshot endpoint, which is 404. */
async function withoutSnapshot(target: string): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = []
  const server = createServer(async (req, res) => {
    hits.push(req.url ?? '')
    if (req.url?.startsWith('/v1/tokens/revocations/snapshot')) {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"code":"not_found","message":"no such route"}')
      return
    }
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers = new Headers()
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host') headers.set(k, v)
    try {
      const upstream = await fetch(target + req.url, {
        method: req.method ?? 'GET',
        headers,
        ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
      })
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
      })
      res.end(Buffer.from(await upstream.arrayBuffer()))
    } catch {
      // The control plane is gone (the suite is stopping): what a proxy answers then.
      res.writeHead(502, { 'content-type': 'application/json' })
      res.end('{"code":"unavailable","message":"the control plane is unreachable"}')
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server }
}

describe('a starting dataplane reads the compact revocation snapshot', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  const dataplanes: TestDataplane[] = []
  let revokedSecret: string
  let validSecret: string
  let old: Awaited<ReturnType<typeof withoutSnapshot>>

  before(async () => {
    const dataDir = tempDir()
    const env = { AGENTROUTER_ADMIN_EMAILS: 'root@example.com' }
    if (TEST_ENGINE === 'sqlite') await fillRevocations(dataDir, FILLED)
    ;[cp, upstream] = await Promise.all([startControlPlane(env, dataDir), startUpstream()])
    if (TEST_ENGINE === 'postgres') {
      // The database is the control plane's own, made at its first start: fill it, and restart.
      await fillRevocations(dataDir, FILLED)
      await cp.stop()
      cp = await startControlPlane(env, dataDir)
    }
    const login = await cp.login('alice@example.com')
    await login.client.aikeys.register('-', '-', 'openai', 'project', 'sk-snapshot')
    const valid = await login.client.me.issueKey('valid')
    const revoked = await login.client.me.issueKey('revoked')
    await login.client.me.revokeKey(revoked.key.id)
    validSecret = valid.secret
    revokedSecret = revoked.secret
    old = await withoutSnapshot(cp.url)
  })
  after(async () => {
    await Promise.all(dataplanes.map((d) => d.stop()))
    await cp?.stop()
    await upstream?.close()
    old?.server.close()
  })

  it('serves the whole log as a gzipped binary stream to a dataplane key, and refuses a caller without a key', async () => {
    const res = await fetch(`${cp.url}/v1/tokens/revocations/snapshot`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/vnd.agentrouter.revocation-snapshot')
    assert.equal(res.headers.get('x-revocation-count'), String(FILLED + 1))
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(body.subarray(0, 4).toString('latin1'), 'ARS1')
    const anonymous = await fetch(`${cp.url}/v1/tokens/revocations/snapshot`)
    assert.equal(anonymous.status, 401)
  })

  it('is a machine interface: an admin session works as a bearer, never as a cookie; other personas and any query are refused', async () => {
    const url = `${cp.url}/v1/tokens/revocations/snapshot`
    const root = await cp.login('root@example.com')
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${root.sessionToken}` } })
    assert.equal(asBearer.status, 200)
    await asBearer.arrayBuffer()
    // What a page elsewhere can make a logged-in admin's browser send: the cookie alone.
    const asCookie = await fetch(url, { headers: { cookie: `${SESSION_COOKIE}=${root.sessionToken}` } })
    assert.equal(asCookie.status, 401)
    assert.equal(((await asCookie.json()) as { code: string }).code, 'unauthenticated')
    const alice = await cp.login('alice@example.com')
    const prompt = await alice.client.me.issueKey('prompt')
    const asPrompt = await fetch(url, { headers: { authorization: `Bearer ${prompt.secret}` } })
    assert.equal(asPrompt.status, 403)
    assert.equal(((await asPrompt.json()) as { code: string }).code, 'permission_denied')
    const withQuery = await fetch(`${url}?since=2026-01-01T00:00:00Z`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    assert.equal(withQuery.status, 400)
    assert.equal(((await withQuery.json()) as { code: string }).code, 'invalid_argument')
  })

  it('is ready with every revoked JTI, having read the compact form, at the head cursor', async () => {
    const dp = await startDataplane({
      controlPlaneUrl: cp.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
    })
    dataplanes.push(dp)
    const r = await dp.readiness()
    assert.equal(r.ready, true)
    assert.equal(r.revoked_jtis, FILLED + 1)
    const list = await cp.admin.tokens.getRevocationList({ limit: 1 })
    assert.equal(list.total_count, FILLED + 1)
    const head = await cp.admin.tokens.getRevocationList({ limit: 100_000 })
    assert.equal(r.cursor, head.snapshot_at)
    assert.match(dp.process.output(), /revocation snapshot loaded[^\n]*"format":"compact"/)
    assert.equal((await chat(dp.url, revokedSecret)).status, 401)
    assert.equal((await chat(dp.url, validSecret)).status, 200)
  })

  it('falls back to paging the JSON list when the control plane has no snapshot endpoint (404)', async () => {
    const dp = await startDataplane({
      controlPlaneUrl: old.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
    })
    dataplanes.push(dp)
    const r = await dp.readiness()
    assert.equal(r.ready, true)
    assert.equal(r.revoked_jtis, FILLED + 1)
    assert.ok(
      old.hits.some((h) => h.startsWith('/v1/tokens/revocations/snapshot')),
      'the snapshot was asked for',
    )
    assert.ok(
      old.hits.some((h) => h.startsWith('/v1/tokens/revocations?')),
      'then the list paged',
    )
    assert.match(dp.process.output(), /revocation snapshot loaded[^\n]*"format":"paged"/)
    assert.equal((await chat(dp.url, revokedSecret)).status, 401)
  })

  it('is one consistent read: revocations committed while it streams are not in it, and it says so', async () => {
    const res = await fetch(`${cp.url}/v1/tokens/revocations/snapshot`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    assert.equal(res.status, 200)
    const declared = Number(res.headers.get('x-revocation-count'))
    const cursor = res.headers.get('x-revocation-cursor')
    // (Last: it adds an entry.) Revoked after the read began (its headers are out), before the body is consumed.
    const alice = await cp.login('alice@example.com')
    const late = await alice.client.me.issueKey('late')
    await alice.client.me.revokeKey(late.key.id)
    const jtis = new Set<string>()
    const decoder = new SnapshotDecoder(
      () => {},
      (jti) => jtis.add(jti),
    )
    // fetch has undone the gzip (content-encoding).
    for await (const chunk of res.body!) decoder.write(chunk)
    const info = decoder.end()
    assert.equal(info.count, declared)
    assert.equal(jtis.size, declared)
    assert.ok(!jtis.has(late.key.id), 'a revocation committed after the read began is not in it')
    const after = await cp.admin.tokens.getRevocationList({ since: cursor!, limit: 10 })
    assert.deepEqual(
      after.revocations.map((r) => r.jti),
      [late.key.id],
      'and it is the one entry after the cursor the snapshot declared',
    )
  })
})
