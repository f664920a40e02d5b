/**
 * Control-plane replicas on one PostgreSQL database: three replicas and three dataplanes, each
 * dataplane starting on a different replica with every replica's URL to fail over to; and two
 * replicas reaching the database through a TCP proxy that the test cuts and restores. Skipped by
 * name, with the reason, without PostgreSQL.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Client } from '../../shared/client/index.ts'
import { ApiError } from '../../shared/errors.ts'
import { Browser } from '../support/browser.ts'
import { LOOPBACK_REDIRECT, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { decodeJwt, rejectsWith } from '../support/http.ts'
import { chat, within } from '../support/inference.ts'
import { pkcePair } from '../support/pkce.ts'
import {
  createTestDatabase,
  POSTGRES_SKIP,
  TEST_DATABASE_URL,
  type TestDatabase,
} from '../support/postgres.ts'
import { listenToStream } from '../support/stream-listener.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'
import { startTestIdp, type TestIdp } from '../support/test-idp.ts'
import { startUpstream, type TestUpstream } from '../support/upstream.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Starts `n` replicas on `databaseUrl` at once (they race to migrate and bootstrap). */
async function startReplicas(
  n: number,
  databaseUrl: string,
  env: Record<string, string>,
): Promise<{ replicas: TestControlPlane[]; adminKey: string; dataplaneKey: string }> {
  const replicas = await Promise.all(
    Array.from({ length: n }, () => startControlPlane({ AGENTROUTER_DATABASE_URL: databaseUrl, ...env })),
  )
  const bootstrapped = replicas.filter((r) => r.adminKey !== '')
  assert.equal(bootstrapped.length, 1, 'exactly one replica bootstrapped the database')
  return { replicas, adminKey: bootstrapped[0]!.adminKey, dataplaneKey: bootstrapped[0]!.dataplaneKey }
}

/** A login begun on `startUrl` and finished on `finishUrl`. */
async function loginAcross(startUrl: string, finishUrl: string, login: string) {
  const { verifier, challenge } = pkcePair()
  const started = await new Client({ baseUrl: startUrl, apiKey: '' }).me.login({
    redirectUri: LOOPBACK_REDIRECT,
    codeChallenge: challenge,
  })
  const { code, state } = await new Browser().authorize(started.authorization_url, LOOPBACK_REDIRECT, login)
  return new Client({ baseUrl: finishUrl, apiKey: '' }).me.callback({ code, state, codeVerifier: verifier })
}

/** Every entry after `since`, paged `limit` at a time from `client`. */
async function pageAll(client: Client, since: string | undefined, limit: number) {
  const all: Array<{ jti: string; revoked_at: string }> = []
  let cursor = since
  for (;;) {
    const page = await client.tokens.getRevocationList({ since: cursor, limit })
    all.push(...page.revocations)
    if (page.revocations.length < limit) return all
    cursor = page.revocations.at(-1)!.revoked_at
  }
}

/** The replica id a control plane logged at start. */
function replicaIdOf(cp: TestControlPlane): string {
  const id = /"replica_id":"([^"]+)"/.exec(cp.process.output())?.[1]
  assert.ok(id, 'the replica logged its id')
  return id
}

function assertStrictlyIncreasing(entries: Array<{ revoked_at: string }>, label: string): void {
  for (let i = 1; i < entries.length; i++) {
    assert.ok(
      entries[i]!.revoked_at > entries[i - 1]!.revoked_at,
      `${label}: ${entries[i]!.revoked_at} after ${entries[i - 1]!.revoked_at}`,
    )
  }
}

describe('three control-plane replicas on one PostgreSQL database', { skip: POSTGRES_SKIP }, () => {
  let db: TestDatabase
  let idp: TestIdp
  let upstream: TestUpstream
  let cps: TestControlPlane[] = []
  let dps: TestDataplane[] = []
  let admin: (i: number) => Client
  let adminKey = ''
  let dataplaneKey = ''
  let session = ''
  let customerId = ''
  let projectId = ''
  let projectAiKey = ''
  const as = (i: number) => new Client({ baseUrl: cps[i]!.url, apiKey: session })
  const idsBefore = new Map<string, string>()

  before(async () => {
    ;[db, idp, upstream] = await Promise.all([createTestDatabase(), startTestIdp(), startUpstream()])
    const started = await startReplicas(3, db.url, {
      AGENTROUTER_ROOT_KEY: randomBytes(32).toString('base64'),
      AGENTROUTER_OIDC_ISSUERS: JSON.stringify([idp.entry('corp')]),
    })
    cps = started.replicas
    admin = (i) => cps[i]!.client(started.adminKey)
    adminKey = started.adminKey
    dataplaneKey = started.dataplaneKey
    // Each dataplane starts on a different replica and knows the others to fail over to.
    dps = await Promise.all(
      [0, 1, 2].map((i) =>
        startDataplane({
          controlPlaneUrl: [0, 1, 2].map((k) => cps[(i + k) % 3]!.url).join(','),
          dataplaneKey: started.dataplaneKey,
          upstream: upstream.url,
          name: `edge-${i}`,
          env: { AGENTROUTER_DP_RECONNECT_MAX: '500ms' },
        }),
      ),
    )
  })
  after(async () => {
    await Promise.all([...dps.map((d) => d.stop()), ...cps.map((c) => c.stop())])
    await Promise.all([idp?.close(), upstream?.close()])
    await db?.drop()
  })

  it('finishes on one replica a login begun on another', async () => {
    const done = await loginAcross(cps[0]!.url, cps[1]!.url, 'pat@corp.example')
    assert.equal(done.identity.email, 'pat@corp.example')
    session = done.session_token
    customerId = done.identity.default_customer_id
    projectId = done.identity.default_project_id
    const me = await as(2).me.get()
    assert.equal(me.identity.id, done.identity.id, 'the session works on the third replica')
  })

  it('lists every replica’s dataplanes on any replica, each with its replica', async () => {
    for (const i of [0, 1, 2]) {
      const { dataplanes } = await admin(i).admin.listDataplanes()
      const ours = dataplanes.filter((d) => d.name.startsWith('edge-'))
      assert.deepEqual(ours.map((d) => d.name).sort(), ['edge-0', 'edge-1', 'edge-2'], `on replica ${i}`)
      assert.ok(
        ours.every((d) => d.connected),
        JSON.stringify(ours),
      )
      assert.deepEqual(
        ours.map((d) => d.replica_id).sort(),
        cps.map(replicaIdOf).sort(),
        'one dataplane per replica, each under its own',
      )
      for (const d of ours) {
        if (idsBefore.has(d.name)) assert.equal(d.id, idsBefore.get(d.name), 'the same id on every replica')
        idsBefore.set(d.name, d.id)
      }
    }
  })

  it('serves a key issued on one replica at every dataplane; revoked on another with ?wait=enforced, all three confirm and refuse it', async () => {
    assert.ok(session, 'logged in')
    const registered = await as(2).aikeys.register(customerId, projectId, 'openai', 'project', 'sk-replicas')
    projectAiKey = registered.key.id
    const { key, secret } = await as(0).me.issueKey('replicated')
    for (const dp of dps) {
      await within(5_000, async () => (await chat(dp.url, secret)).status === 200, `served at ${dp.name}`)
    }
    const { enforcement } = await as(1).me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 10_000 })
    assert.equal(enforcement?.status, 'enforced', JSON.stringify(enforcement))
    assert.deepEqual(enforcement?.pending, [])
    for (const dp of dps) {
      assert.ok(
        enforcement?.enforced_by.some((label) => label.startsWith(`${dp.name} (`)),
        `${dp.name} named in ${JSON.stringify(enforcement?.enforced_by)}`,
      )
      assert.equal((await chat(dp.url, secret)).status, 401, `refused at ${dp.name} when the DELETE returns`)
    }
    // Every replica's own auth check refuses it too.
    for (const i of [0, 1, 2]) {
      await within(2_000, async () => {
        try {
          await new Client({ baseUrl: cps[i]!.url, apiKey: secret }).me.get()
          return false
        } catch (err) {
          return err instanceof ApiError && err.code === 'unauthenticated'
        }
      })
    }
  })

  it('tells every replica’s dataplanes of a secret rotated on one replica, and of a signing key rotated on another', async () => {
    const { secret } = await as(0).me.issueKey('rotations')
    for (const dp of dps) {
      assert.equal((await chat(dp.url, secret)).status, 200)
      assert.equal(upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-replicas', dp.name)
    }
    // Each dataplane cached the provider key (for minutes); only the event makes it read again.
    await admin(2).secret.rotateSecret({ name: projectAiKey, realm: 'byok', newValue: 'sk-after' })
    for (const dp of dps) {
      await within(
        2_000,
        async () => {
          await chat(dp.url, secret)
          return upstream.requests.at(-1)!.headers.authorization === 'Bearer sk-after'
        },
        `${dp.name} injects the rotated value`,
      )
    }

    const rotated = await admin(1).admin.rotateSigningKey({ activateAfterMs: 0 })
    // The other replicas sign with it, and every replica and dataplane verifies it.
    for (const i of [0, 2]) {
      await within(
        2_000,
        async () => {
          const { secret: fresh } = await as(i).me.issueKey(`signed on ${i}`)
          return decodeJwt(fresh).header.kid === rotated.kid
        },
        `replica ${i} signs with the new key`,
      )
    }
    const { secret: fresh } = await as(0).me.issueKey('new key everywhere')
    for (const i of [0, 1, 2]) {
      const me = await new Client({ baseUrl: cps[i]!.url, apiKey: fresh }).me.get()
      assert.ok(me.identity.id)
    }
    for (const dp of dps) assert.equal((await chat(dp.url, fresh)).status, 200, dp.name)
  })

  it('pages back 150 concurrent revocations over the three replicas from each, limit=7: none missing, none repeated, in order', async () => {
    const { head_cursor: since } = await admin(0).admin.listDataplanes()
    // An observer on each replica's stream: each must see every entry once, in cursor order.
    const observers = await Promise.all(
      [0, 1, 2].map((i) => listenToStream(cps[i]!.url, adminKey, `order-${i}`)),
    )
    const keys = await Promise.all(
      Array.from({ length: 150 }, (_, n) =>
        as(n % 3)
          .me.issueKey(`bulk ${n}`)
          .then((r) => r.key),
      ),
    )
    await Promise.all(keys.map((key, n) => as((n + 1) % 3).me.revokeKey(key.id)))
    const expected = new Set(keys.map((k) => k.id))
    let reference: string[] | undefined
    for (const i of [0, 1, 2]) {
      const entries = await pageAll(admin(i), since, 7)
      assertStrictlyIncreasing(entries, `replica ${i}`)
      const jtis = entries.map((e) => e.jti)
      assert.equal(new Set(jtis).size, jtis.length, `replica ${i}: none repeated`)
      for (const id of expected) assert.ok(jtis.includes(id), `replica ${i}: ${id} missing`)
      if (reference) assert.deepEqual(jtis, reference, `replica ${i} pages the same log`)
      reference = jtis
    }
    // Every dataplane applied all of them, whichever replica it listens to.
    const last = (await admin(2).tokens.getRevocationList({ since, limit: 1000 })).revocations.at(-1)!
    for (const dp of dps) await dp.waitFor((r) => r.cursor >= last.revoked_at, 10_000)
    for (const [i, observer] of observers.entries()) {
      await observer.waitFor((m) => m.type === 'revocation' && m.cursor === last.revoked_at, 10_000)
      const pushed = observer.messages.flatMap((m) =>
        m.type === 'revocation' && m.cursor > since ? [m.revocation] : [],
      )
      assertStrictlyIncreasing(pushed, `pushed by replica ${i}`)
      assert.deepEqual(
        pushed.map((r) => r.jti),
        reference,
        `replica ${i} pushed every entry once, in cursor order`,
      )
      observer.close()
    }
  })

  it('turns a concurrent create of the same name on several replicas into already_exists, never a 500', async () => {
    const outcomes = await Promise.allSettled(
      [0, 1, 2, 0, 1, 2].map((i) =>
        admin(i).secret.createSecret({
          name: 'raced',
          value: `value-${i}`,
        }),
      ),
    )
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        assert.ok(outcome.reason instanceof ApiError, String(outcome.reason))
        assert.equal(outcome.reason.code, 'already_exists', outcome.reason.message)
      }
    }
    assert.ok(outcomes.some((o) => o.status === 'fulfilled'))
  })

  it('waits for a dataplane that has not applied a revocation even when another stream on another replica takes its name', async () => {
    const [a, b] = cps as [TestControlPlane, TestControlPlane]
    const [onA, onB] = [replicaIdOf(a), replicaIdOf(b)]
    const stalled = 'dp-east ('
    // dp-east: a dataplane on replica A that never acknowledges what it is sent.
    const east = await listenToStream(a.url, dataplaneKey, 'dp-east', { ack: false })
    const borrowers: Array<{ close(): void }> = [east]
    try {
      await within(5_000, async () =>
        (await admin(1).admin.listDataplanes()).dataplanes.some(
          (d) => d.name === 'dp-east' && d.connected && d.replica_id === onA,
        ),
      )
      const revokeOn = async (i: number, what: string) => {
        const { key } = await as(0).me.issueKey(what)
        const { enforcement } = await as(i).me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 1_500 })
        assert.ok(enforcement, what)
        return enforcement
      }
      const pendingOnA = (e: Awaited<ReturnType<typeof revokeOn>>, what: string) => {
        assert.equal(e.status, 'timeout', `${what}: ${JSON.stringify(e)}`)
        assert.ok(
          e.pending.some((label) => label.startsWith(stalled) && label.endsWith(` on replica ${onA}`)),
          `${what}: dp-east on replica A is pending in ${JSON.stringify(e)}`,
        )
        assert.ok(
          !e.enforced_by.some((label) => label.endsWith(` on replica ${onA}`) && label.startsWith(stalled)),
          `${what}: dp-east on replica A is not named as enforcing`,
        )
      }
      pendingOnA(await revokeOn(1, 'before any borrower'), 'before any borrower')

      // An admin observer on B under the same name: it enforces nothing and hides nothing.
      const observer = await listenToStream(b.url, adminKey, 'dp-east')
      borrowers.push(observer)
      await sleep(200)
      pendingOnA(await revokeOn(1, 'admin observer named dp-east on B'), 'admin observer on B')
      pendingOnA(await revokeOn(2, 'admin observer named dp-east on B, asked on C'), 'observer, asked on C')
      observer.close()

      // A dataplane key's stream on B under the same name that does acknowledge: named on B's
      // side, and A's still pending, whichever replica is asked.
      const twin = await listenToStream(b.url, dataplaneKey, 'dp-east')
      borrowers.push(twin)
      await within(5_000, async () =>
        (await admin(2).admin.listDataplanes()).dataplanes.some(
          (d) => d.name === 'dp-east' && d.connected && d.replica_id === onB,
        ),
      )
      for (const i of [1, 2]) {
        const e = await revokeOn(i, `twin named dp-east on B, asked on replica ${i}`)
        pendingOnA(e, `twin on B, asked on replica ${i}`)
        assert.ok(
          e.enforced_by.some((label) => label.startsWith(stalled) && label.endsWith(` on replica ${onB}`)),
          `the twin on B is named as enforcing: ${JSON.stringify(e)}`,
        )
      }
      // Both are listed, each under its replica.
      const listed = (await admin(2).admin.listDataplanes()).dataplanes.filter((d) => d.name === 'dp-east')
      assert.deepEqual(listed.map((d) => d.replica_id).sort(), [onA, onB].sort(), JSON.stringify(listed))
    } finally {
      for (const stream of borrowers) stream.close()
    }
    // Once dp-east is gone from A, a wait no longer names it.
    await within(5_000, async () => {
      const { key } = await as(0).me.issueKey('after dp-east left')
      const { enforcement } = await as(2).me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 1_500 })
      return enforcement?.status === 'enforced' && !enforcement.pending.length
    })
  })

  it('after a replica is SIGKILLed, its dataplane fails over and enforces a revocation made on another; the others keep serving writes', async () => {
    const [killed, , survivor] = cps as [TestControlPlane, TestControlPlane, TestControlPlane]
    const orphan = dps[0]!
    const { key, secret } = await as(1).me.issueKey('after the kill')
    await within(5_000, async () => (await chat(orphan.url, secret)).status === 200)
    // Mid-way: writes are in flight on the others when it dies.
    const inFlight = Array.from({ length: 10 }, (_, n) => as(1 + (n % 2)).me.issueKey(`during ${n}`))
    killed.process.kill('SIGKILL')
    await killed.process.exited
    for (const outcome of await Promise.allSettled(inFlight)) assert.equal(outcome.status, 'fulfilled')
    await orphan.waitFor((r) => r.stream_connected, 15_000)
    // A replica publishes a newly connected dataplane with its next heartbeat (500 ms): until
    // then a wait on another replica does not know it is there to wait for.
    await within(5_000, async () =>
      (await admin(2).admin.listDataplanes()).dataplanes.some((d) => d.name === orphan.name && d.connected),
    )

    const { enforcement } = await as(2).me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 15_000 })
    assert.equal(enforcement?.status, 'enforced', JSON.stringify(enforcement))
    assert.ok(enforcement?.enforced_by.some((label) => label.startsWith(`${orphan.name} (`)))
    for (const dp of dps) assert.equal((await chat(dp.url, secret)).status, 401, `refused at ${dp.name}`)

    const { key: fresh } = await new Client({ baseUrl: survivor.url, apiKey: session }).me.issueKey(
      'still writing',
    )
    assert.match(fresh.id, /^key_/)
    const listed = (await admin(1).admin.listDataplanes()).dataplanes.find((d) => d.name === orphan.name)
    assert.ok(listed?.connected, JSON.stringify(listed))
    assert.notEqual(listed.replica_id, replicaIdOf(killed), 'now listed under a surviving replica')
    assert.equal(listed.id, idsBefore.get(orphan.name), 'the same id as on the replica that died')
  })
})

describe('PostgreSQL cut off from the replicas', { skip: POSTGRES_SKIP }, () => {
  let db: TestDatabase
  let link: TcpProxy
  let upstream: TestUpstream
  let cps: TestControlPlane[] = []
  let dps: TestDataplane[] = []
  let admin: (i: number) => Client
  let session = ''
  let customerId = ''
  let projectId = ''

  before(async () => {
    ;[db, upstream] = await Promise.all([createTestDatabase(), startUpstream()])
    const server = new URL(TEST_DATABASE_URL)
    link = await startTcpProxy(`http://${server.hostname}:${server.port || 5432}`)
    const viaLink = new URL(db.url)
    viaLink.host = new URL(link.url).host
    const started = await startReplicas(2, viaLink.toString(), {
      AGENTROUTER_ROOT_KEY: randomBytes(32).toString('base64'),
      // Several heartbeats (pings the dataplanes must answer) pass while the database is away.
      AGENTROUTER_STREAM_HEARTBEAT: '500ms',
    })
    cps = started.replicas
    admin = (i) => cps[i]!.client(started.adminKey)
    dps = await Promise.all(
      [0, 1].map((i) =>
        startDataplane({
          controlPlaneUrl: cps[i]!.url,
          dataplaneKey: started.dataplaneKey,
          upstream: upstream.url,
          name: `cut-${i}`,
        }),
      ),
    )
    const login = await cps[0]!.login('dana@example.com')
    session = login.sessionToken
    customerId = login.customerId
    projectId = login.projectId
  })
  after(async () => {
    await Promise.all([...dps.map((d) => d.stop()), ...cps.map((c) => c.stop())])
    await upstream?.close()
    await link?.close()
    await db?.drop()
  })

  const listenings = (cp: TestControlPlane) =>
    cp.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"listening for database notifications"')).length

  it('answers unavailable while the database is away, keeps streams and enforcement, and catches up when it returns', async () => {
    const as = (i: number) => new Client({ baseUrl: cps[i]!.url, apiKey: session })
    await as(0).aikeys.register(customerId, projectId, 'openai', 'project', 'sk-cut')
    const kept = await as(0).me.issueKey('kept')
    const dropped = await as(1).me.issueKey('revoked before the cut')
    for (const dp of dps) {
      await within(
        5_000,
        async () => (await chat(dp.url, kept.secret)).status === 200,
        `served at ${dp.name}`,
      )
    }
    await as(1).me.revokeKey(dropped.key.id, { wait: 'enforced', timeoutMs: 10_000 })
    const listenedBefore = cps.map(listenings)

    link.cut()
    try {
      for (const i of [0, 1]) {
        await rejectsWith(as(i).me.issueKey('while cut'), 'unavailable')
        await rejectsWith(as(i).me.listKeys(), 'unavailable')
        await rejectsWith(admin(i).admin.listDataplanes(), 'unavailable')
      }
      // Longer than a few stream heartbeats: the streams stay up, the dataplanes keep enforcing.
      await sleep(2_000)
      for (const dp of dps) {
        const r = await dp.readiness()
        assert.equal(r.stream_connected, true, `${dp.name} kept its stream`)
        assert.equal((await chat(dp.url, kept.secret)).status, 200, `${dp.name} still serves a valid key`)
        assert.equal(
          (await chat(dp.url, dropped.secret)).status,
          401,
          `${dp.name} still refuses a revoked key`,
        )
      }
    } finally {
      link.restore()
    }

    // Each replica reconnects and LISTENs again.
    await within(15_000, async () => cps.every((cp, i) => listenings(cp) > listenedBefore[i]!), 're-LISTEN')
    const { key } = await as(0).me.issueKey('after the return')
    const { enforcement } = await as(1).me.revokeKey(kept.key.id, { wait: 'enforced', timeoutMs: 10_000 })
    assert.equal(enforcement?.status, 'enforced', JSON.stringify(enforcement))
    for (const dp of dps) {
      assert.ok(
        enforcement?.enforced_by.some((label) => label.startsWith(`${dp.name} (`)),
        dp.name,
      )
      assert.equal((await chat(dp.url, kept.secret)).status, 401, `${dp.name} refuses the key revoked after`)
    }
    assert.match(key.id, /^key_/)
    // Nothing lost: both replicas page the same log, and both dataplanes applied all of it.
    const [a, b] = await Promise.all([pageAll(admin(0), undefined, 7), pageAll(admin(1), undefined, 7)])
    assert.deepEqual(a, b)
    assertStrictlyIncreasing(a, 'the log')
    for (const jti of [dropped.key.id, kept.key.id])
      assert.ok(
        a.some((e) => e.jti === jti),
        jti,
      )
    for (const dp of dps) await dp.waitFor((r) => r.cursor >= a.at(-1)!.revoked_at, 10_000)
  })
})
