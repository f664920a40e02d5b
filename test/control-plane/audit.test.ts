/**
 * The audit trail (issue 12 item 3): every audited action appears once in `GET /v1/admin/audit`
 * with its actor and target, in the order it happened, and once as a JSON log line; a refused
 * request is counted per credential, route and minute (one `denied` record naming the route
 * pattern, never the caller's path); no record or log line holds a secret value or a token
 * (marker strings planted in values); filters and paging; non-admins refused; a SIGKILL in the
 * middle of a burst of writes leaves every acknowledged change with its record and no record
 * without its change (they share a transaction); BYOK resolutions are counted, not written one
 * by one; the retention needs a unit and old records are purged.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { AuditTally } from '../../control-plane/audit/tally.ts'
import { AuditTrail } from '../../control-plane/audit/trail.ts'
import { loadControlPlaneConfig } from '../../control-plane/config.ts'
import { PageTokens } from '../../control-plane/crypto/page-token.ts'
import { AuditStore } from '../../control-plane/store/audit.ts'
import { openStore } from '../../control-plane/store/open.ts'
import type { AuditRecord, Client } from '../../shared/client/index.ts'
import { ConfigError } from '../../shared/config.ts'
import { createLogger } from '../../shared/logger.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, http } from '../support/http.ts'
import { tempDir } from '../support/process.ts'
import { tare } from '../support/tare.ts'

const MARKER = 'AUDITMARKER'

async function allRecords(client: Client, filter: Record<string, string> = {}): Promise<AuditRecord[]> {
  const out: AuditRecord[] = []
  let pageToken: string | undefined
  do {
    const page = await client.admin.listAudit({
      ...filter,
      pageSize: 1000,
      ...(pageToken ? { pageToken } : {}),
    })
    out.push(...page.records)
    pageToken = page.page.next_page_token || undefined
  } while (pageToken)
  return out
}

/** The `audit` lines in a control plane's output. */
function auditLogLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; audit: Record<string, unknown> })
    .filter((l) => l.msg === 'audit')
    .map((l) => l.audit)
}

describe('audit trail', () => {
  const running: TestControlPlane[] = []
  after(() => Promise.all(running.map((cp) => cp.stop())))

  it('records each action once, with actor and target, in order; one log line each; no secret or token', async () => {
    let cp = await startControlPlane()
    running.push(cp)
    const admin = cp.admin
    const adminKeyId = (await admin.me.get()).identity.id
    const tokens: string[] = [cp.adminKey, cp.dataplaneKey]

    const alice = await cp.login('alice@example.com')
    tokens.push(alice.sessionToken)
    const expected: Array<[action: string, actor: string, target: string]> = [
      ['session.login', alice.identityId, alice.identityId],
    ]
    const customer = (await admin.admin.createCustomer('Audited Corp')).customer.id
    expected.push(['customer.create', adminKeyId, customer])
    const project = (await admin.admin.createProject(customer, 'audited')).project.id
    expected.push(['project.create', adminKeyId, project])
    await admin.admin.setMember(customer, project, alice.identityId, 'member')
    expected.push(['membership.set', adminKeyId, alice.identityId])
    await admin.admin.setMember(customer, project, alice.identityId, 'owner')
    expected.push(['membership.set', adminKeyId, alice.identityId])

    const issued = await alice.client.me.issueKey('alice-ci')
    tokens.push(issued.secret)
    expected.push(['key.issue', alice.identityId, issued.key.id])
    await alice.client.me.revokeKey(issued.key.id)
    expected.push(['key.revoke', alice.identityId, issued.key.id])
    const dp = await admin.admin.issueKey({ name: 'dp-audit', type: 'KEY_TYPE_DATAPLANE' })
    tokens.push(dp.secret)
    expected.push(['key.issue', adminKeyId, dp.key.id])
    await admin.admin.revokeKey(dp.key.id)
    expected.push(['key.revoke', adminKeyId, dp.key.id])

    const ref = { name: 'db-password', realm: 'audit' }
    await admin.secret.createSecret({ ...ref, value: `${MARKER}-create` })
    expected.push(['secret.create', adminKeyId, 'audit/db-password'])
    await admin.secret.createSecret({ ...ref, value: `${MARKER}-update` })
    expected.push(['secret.update', adminKeyId, 'audit/db-password'])
    await admin.secret.rotateSecret({ ...ref, newValue: `${MARKER}-rotate` })
    expected.push(['secret.rotate', adminKeyId, 'audit/db-password'])
    assert.equal((await admin.secret.validateSecret(ref)).valid, true)
    expected.push(['secret.validate', adminKeyId, 'audit/db-password'])
    assert.equal((await admin.secret.getSecretValue(ref)).value, `${MARKER}-rotate`)
    expected.push(['secret.value.read', adminKeyId, 'audit/db-password'])
    await admin.secret.deleteSecret(ref)
    expected.push(['secret.delete', adminKeyId, 'audit/db-password'])

    const aiKey = (
      await alice.client.aikeys.register(customer, project, 'openai', 'team key', `sk-${MARKER}-provider-key`)
    ).key
    expected.push(['aikey.add', alice.identityId, aiKey.id])
    const dataplane = cp.client(cp.dataplaneKey)
    for (let i = 0; i < 3; i++)
      await dataplane.internal.resolveProviderKey({
        identityId: alice.identityId,
        customerId: customer,
        projectId: project,
        provider: 'openai',
      })
    await alice.client.aikeys.revoke(customer, project, aiKey.id)
    expected.push(['aikey.revoke', alice.identityId, aiKey.id])

    const rotated = await admin.admin.rotateSigningKey({ activateAfterMs: 0 })
    expected.push(['signing_key.rotate', adminKeyId, rotated.kid])
    const kek = await admin.admin.rotateKek()
    expected.push(['kek.rotate', adminKeyId, kek.kek_id])
    await admin.admin.removeMember(customer, project, alice.identityId)
    expected.push(['membership.remove', adminKeyId, alice.identityId])
    await alice.client.me.logout()
    expected.push(['session.logout', alice.identityId, (await decodeJti(alice.sessionToken)) ?? ''])

    const records = await allRecords(admin)
    const bootstrap = records.filter((r) => r.action === 'bootstrap')
    assert.equal(bootstrap.length, 1, 'bootstrap recorded once')
    assert.equal(bootstrap[0]!.actor.identity_id, 'system')
    assert.equal(bootstrap[0]!.actor.credential_type, 'system')
    assert.equal(bootstrap[0]!.target, adminKeyId)
    const bootstrapKeys = records.filter((r) => r.action === 'key.issue' && r.actor.identity_id === 'system')
    assert.equal(bootstrapKeys.length, 2, 'the bootstrap admin and dataplane keys')

    const mine = records.filter((r) => r.actor.identity_id !== 'system' && r.action !== 'request.denied')
    assert.deepEqual(
      mine.map((r) => [r.action, r.actor.identity_id, r.target]),
      expected,
    )
    for (const r of mine) {
      assert.equal(r.outcome, 'success', `${r.action}`)
      assert.match(r.request_id, /^[\w.:-]+$/, `${r.action} has a request id`)
      assert.match(r.client_address, /127\.0\.0\.1/, `${r.action} has the client address`)
      assert.match(r.actor.credential_id, /^(key|ses)_/, `${r.action} names the credential`)
      assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    }
    const ids = records.map((r) => Number(r.id))
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'oldest first',
    )
    const byAction = (action: string) => mine.filter((r) => r.action === action)
    assert.equal(byAction('session.login')[0]!.actor.credential_type, 'session')
    assert.equal(byAction('customer.create')[0]!.actor.credential_type, 'KEY_TYPE_ADMIN')
    assert.deepEqual(byAction('membership.set')[1]!.details, {
      customer_id: customer,
      project_id: project,
      role: 'owner',
      previous_role: 'member',
    })

    // One JSON log line per record, with the same facts.
    const logged = auditLogLines(cp.process.output())
    assert.deepEqual(
      logged.map((l) => [l.action, l.target, l.request_id]),
      records.map((r) => [r.action, r.target, r.request_id]),
    )

    // The BYOK resolutions are counted in memory and written at the end of the minute or, as
    // here, when the control plane stops: one record of 3, not three.
    const dataDir = cp.dataDir
    await cp.stop()
    const firstOutput = cp.process.output()
    cp = await startControlPlane({}, dataDir)
    running.push(cp)
    const resolved = await allRecords(cp.admin, { action: 'byok.resolve' })
    assert.equal(resolved.length, 1, JSON.stringify(resolved))
    assert.equal(resolved[0]!.target, aiKey.id)
    assert.equal(resolved[0]!.details.count, 3)
    assert.equal(resolved[0]!.actor.credential_type, 'KEY_TYPE_DATAPLANE')

    // No secret value and no token anywhere: not in a record, not in the log.
    const everything = JSON.stringify(await allRecords(cp.admin))
    for (const [where, text] of [
      ['records', everything],
      ['log', firstOutput + cp.process.output()],
    ] as const) {
      assert.ok(!text.includes(MARKER), `a secret value in the ${where}`)
      for (const token of tokens) assert.ok(!text.includes(token), `a token in the ${where}`)
    }
  })

  it('counts refused requests per credential, route and minute, naming the route, never the path; a request id given is kept and echoed', async () => {
    let cp = await startControlPlane()
    running.push(cp)
    const alice = await cp.login('alice@example.com')
    const promptKey = (await alice.client.me.issueKey('alice-prompt')).secret
    assertError(
      await http(cp.url, 'GET', '/v1/admin/keys', { token: alice.sessionToken }),
      'permission_denied',
    )
    // The caller chooses the path, and nothing has validated it when the persona check refuses.
    const long = `${MARKER}${'x'.repeat(6000)}`
    for (let i = 0; i < 20; i++)
      assertError(
        await http(cp.url, 'GET', `/v1/admin/customers/${long}${i}/projects`, { token: promptKey }),
        'permission_denied',
      )
    // Counted, not written: nothing yet, neither a record nor a log line.
    assert.deepEqual(await allRecords(cp.admin, { action: 'request.denied' }), [])
    assert.ok(!auditLogLines(cp.process.output()).some((l) => l.action === 'request.denied'))

    const res = await http(cp.url, 'POST', '/v1/admin/customers', {
      token: cp.adminKey,
      json: { name: 'Traced' },
      headers: { 'x-request-id': 'trace-42.a' },
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.headers.get('x-request-id'), 'trace-42.a')
    const [created] = await allRecords(cp.admin, { target: res.body.customer.id })
    assert.equal(created!.request_id, 'trace-42.a')
    // An id that is not a plain token is replaced, not stored.
    const odd = await http(cp.url, 'GET', '/v1/admin/audit', {
      token: cp.adminKey,
      headers: { 'x-request-id': 'a b<script>' },
    })
    assert.match(odd.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)

    // Written once the minute is over or, as here, when the control plane stops.
    const dataDir = cp.dataDir
    await cp.stop()
    const firstOutput = cp.process.output()
    cp = await startControlPlane({}, dataDir)
    running.push(cp)
    const denied = await allRecords(cp.admin, { action: 'request.denied' })
    assert.deepEqual(
      denied.map((r) => [r.actor.identity_id, r.actor.credential_type, r.target, r.outcome, r.details.count]),
      [
        [alice.identityId, 'session', 'GET /v1/admin/keys', 'denied', 1],
        [alice.identityId, 'KEY_TYPE_PROMPT', 'GET /v1/admin/customers/{customer_id}/projects', 'denied', 20],
      ],
    )
    assert.match(String(denied[1]!.details.minute), /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000000Z$/)
    assert.match(denied[1]!.client_address, /127\.0\.0\.1/)
    const logged = auditLogLines(firstOutput).filter((l) => l.action === 'request.denied')
    assert.deepEqual(
      logged.map((l) => [l.target, (l.details as Record<string, unknown>).count]),
      denied.map((r) => [r.target, r.details.count]),
      'one log line per record, at the flush',
    )
    for (const [where, text] of [
      ['records', JSON.stringify(await allRecords(cp.admin))],
      ['log', firstOutput + cp.process.output()],
    ] as const)
      assert.ok(!text.includes(MARKER), `the refused path in the ${where}`)
  })

  it('filters by since, actor, action and target, pages one at a time, and refuses non-admins and bad input', async () => {
    const cp = await startControlPlane()
    running.push(cp)
    const admin = cp.admin
    const alice = await cp.login('alice@example.com')
    const ids: string[] = []
    for (const name of ['One', 'Two', 'Three']) ids.push((await admin.admin.createCustomer(name)).customer.id)
    await alice.client.me.issueKey('mine')

    const everything = await allRecords(admin)
    const walked: string[] = []
    let pageToken: string | undefined
    do {
      const page = await admin.admin.listAudit({ pageSize: 1, ...(pageToken ? { pageToken } : {}) })
      assert.ok(page.records.length <= 1)
      walked.push(...page.records.map((r) => r.id))
      pageToken = page.page.next_page_token || undefined
    } while (pageToken)
    assert.deepEqual(
      walked,
      everything.map((r) => r.id),
    )

    const creates = await allRecords(admin, { action: 'customer.create' })
    assert.deepEqual(
      creates.map((r) => r.target),
      ids,
    )
    const byAlice = await allRecords(admin, { actor: alice.identityId })
    assert.deepEqual(
      byAlice.map((r) => r.action),
      ['session.login', 'key.issue'],
    )
    assert.deepEqual(
      (await allRecords(admin, { target: ids[1]! })).map((r) => r.action),
      ['customer.create'],
    )
    const since = creates[1]!.time
    assert.deepEqual(
      (await allRecords(admin, { since, action: 'customer.create' })).map((r) => r.target),
      ids.slice(1),
    )

    const cli = await tare(['api', 'admin', 'audit', 'list', '--action', 'customer.create'], {
      baseUrl: cp.url,
      apiKey: cp.adminKey,
    })
    assert.equal(cli.code, 0, cli.stderr)
    assert.match(cli.stdout, /^TIME\s+ACTOR\s+CREDENTIAL\s+ACTION\s+TARGET\s+OUTCOME\s+CLIENT/m)
    for (const id of ids) assert.match(cli.stdout, new RegExp(`customer\\.create\\s+${id}\\s+success`))
    const cliJson = await tare(['api', 'admin', 'audit', 'list', '--actor', alice.identityId, '--json'], {
      baseUrl: cp.url,
      apiKey: cp.adminKey,
    })
    assert.equal(cliJson.code, 0, cliJson.stderr)
    assert.equal(JSON.parse(cliJson.stdout).records.length, 2)

    for (const token of [alice.sessionToken, cp.dataplaneKey])
      assertError(await http(cp.url, 'GET', '/v1/admin/audit', { token }), 'permission_denied')
    assertError(await http(cp.url, 'GET', '/v1/admin/audit'), 'unauthenticated')
    for (const [query, field] of [
      [{ since: 'yesterday' }, 'since'],
      [{ since: '99999-01-01T00:00:00Z' }, 'since'],
      [{ page_size: '0' }, 'page_size'],
      [{ page_token: 'x.y' }, 'page_token'],
      [{ actor: 'a\u001b[31m' }, 'actor'],
      [{ colour: 'red' }, 'colour'],
    ] as const) {
      assertError(
        await http(cp.url, 'GET', '/v1/admin/audit', { token: cp.adminKey, query }),
        'invalid_argument',
        field,
        JSON.stringify(query),
      )
    }
  })

  it('a SIGKILL mid-burst leaves every acknowledged change with its record, and no record without its change', async () => {
    const first = await startControlPlane()
    running.push(first)
    const acked: string[] = []
    const ackedSecrets: string[] = []
    let stop = false
    let enough: () => void = () => {}
    const reached = new Promise<void>((resolve) => {
      enough = resolve
    })
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          if (w % 2 === 0) {
            const { customer } = await first.admin.admin.createCustomer(`burst-${w}-${i}`)
            acked.push(customer.id)
          } else {
            const name = `burst-${w}-${i}`
            await first.admin.secret.createSecret({ name, realm: 'burst', value: `${MARKER}-${i}` })
            ackedSecrets.push(name)
          }
          if (acked.length + ackedSecrets.length === 80) enough()
        } catch {
          return
        }
      }
    }
    const workers = Array.from({ length: 4 }, (_, w) => worker(w))
    await reached
    first.process.kill('SIGKILL')
    stop = true
    await Promise.all(workers)
    await first.process.exited

    const cp = await startControlPlane({}, first.dataDir)
    running.push(cp)
    const customers = new Set<string>()
    let pageToken: string | undefined
    do {
      const page = await cp.admin.admin.listCustomers({ pageSize: 1000, ...(pageToken ? { pageToken } : {}) })
      for (const c of page.customers) customers.add(c.id)
      pageToken = page.page.next_page_token || undefined
    } while (pageToken)
    const recorded = new Set((await allRecords(cp.admin, { action: 'customer.create' })).map((r) => r.target))
    for (const id of acked) {
      assert.ok(customers.has(id), `acknowledged ${id} exists`)
      assert.ok(recorded.has(id), `acknowledged ${id} has its record`)
    }
    for (const id of recorded) assert.ok(customers.has(id), `record of ${id} has its change`)
    for (const id of customers) assert.ok(recorded.has(id), `${id} has its record`)

    const secrets = new Set<string>()
    pageToken = undefined
    do {
      const page = await cp.admin.secret.listSecrets({
        realm: 'burst',
        pageSize: 1000,
        ...(pageToken ? { pageToken } : {}),
      })
      for (const secret of page.secrets) secrets.add(`burst/${secret.name}`)
      pageToken = page.next_page_token || undefined
    } while (pageToken)
    const secretRecords = new Set(
      (await allRecords(cp.admin, { action: 'secret.create' })).map((r) => r.target),
    )
    assert.ok(ackedSecrets.length > 0)
    for (const name of ackedSecrets)
      assert.ok(secretRecords.has(`burst/${name}`), `acknowledged ${name} has its record`)
    assert.deepEqual(
      [...secretRecords].sort(),
      [...secrets].sort(),
      'a record for each secret, a secret for each record',
    )
  })

  it('counts frequent events per key and minute, written once the minute is over', async () => {
    const dataDir = tempDir()
    const db = await openStore({ databaseUrl: undefined, dataDir })
    try {
      const lines: string[] = []
      const trail = new AuditTrail(
        new AuditStore(db),
        new PageTokens(Buffer.alloc(32, 1)),
        createLogger({ write: (l) => lines.push(l) }),
      )
      let now = 10 * 60_000 + 5_000
      const tally = new AuditTally(trail, createLogger({ write: () => {} }), () => now)
      for (let i = 0; i < 5; i++) tally.count('byok.resolve', 'byok_A')
      tally.count('byok.resolve', 'byok_B')
      tally.count('byok.resolve', 'byok_A', 'denied')
      now += 60_000
      tally.count('byok.resolve', 'byok_A')
      await tally.flush(false)
      const firstMinute = (await trail.list({ pageSize: 100 })).records
      assert.deepEqual(
        firstMinute.map((r) => [r.target, r.outcome, r.details.count]),
        [
          ['byok_A', 'success', 5],
          ['byok_B', 'success', 1],
          ['byok_A', 'denied', 1],
        ],
      )
      assert.equal(lines.length, 3, 'one log line per record')
      await tally.close()
      const all = (await trail.list({ pageSize: 100 })).records
      assert.equal(all.length, 4)
      assert.equal(all[3]!.details.count, 1)
    } finally {
      await db.close()
    }
  })

  it('a record whose transaction rolls back is neither stored nor logged', async () => {
    const db = await openStore({ databaseUrl: undefined, dataDir: tempDir() })
    try {
      const lines: string[] = []
      const trail = new AuditTrail(
        new AuditStore(db),
        new PageTokens(Buffer.alloc(32, 1)),
        createLogger({ write: (l) => lines.push(l) }),
      )
      await assert.rejects(
        trail.change({ action: 'customer.create', target: 'cust_failed' }, async () => {
          throw new Error('the change failed')
        }),
        /the change failed/,
      )
      await assert.rejects(
        db.transaction(async () => {
          await trail.record({ action: 'customer.create', target: 'cust_rolled_back' })
          assert.equal(lines.length, 0, 'not logged before the commit')
          throw new Error('rolled back after the record')
        }),
        /rolled back/,
      )
      await db.transaction(async () => {
        await db
          .transaction(async () => {
            await trail.record({ action: 'customer.create', target: 'cust_savepoint' })
          })
          .catch(() => {})
        await assert.rejects(
          db.transaction(async () => {
            await trail.record({ action: 'customer.create', target: 'cust_inner_rolled_back' })
            throw new Error('inner')
          }),
        )
      })
      assert.deepEqual(
        (await trail.list({ pageSize: 10 })).records.map((r) => r.target),
        ['cust_savepoint'],
      )
      assert.deepEqual(
        lines.map((l) => JSON.parse(l).audit.target),
        ['cust_savepoint'],
      )
    } finally {
      await db.close()
    }
  })

  it('purges records past the retention; the retention needs a unit', async () => {
    const db = await openStore({ databaseUrl: undefined, dataDir: tempDir() })
    try {
      const store = new AuditStore(db)
      const trail = new AuditTrail(
        store,
        new PageTokens(Buffer.alloc(32, 1)),
        createLogger({ write: () => {} }),
      )
      const old = Date.now() * 1000 - 91 * 86_400_000_000
      await store.insert({
        at: old,
        actor_id: 'system',
        credential_id: '',
        credential_type: 'system',
        action: 'customer.create',
        target: 'cust_old',
        outcome: 'success',
        client_address: '',
        request_id: '',
        details: '{}',
      })
      await trail.record({ action: 'customer.create', target: 'cust_new' })
      assert.equal(await trail.purge(90 * 86_400_000), 1)
      assert.deepEqual(
        (await trail.list({ pageSize: 10 })).records.map((r) => r.target),
        ['cust_new'],
      )
    } finally {
      await db.close()
    }

    assert.equal(loadControlPlaneConfig({}).auditRetentionMs, 90 * 86_400_000)
    assert.equal(
      loadControlPlaneConfig({ AGENTROUTER_AUDIT_RETENTION: '30d' }).auditRetentionMs,
      30 * 86_400_000,
    )
    assert.throws(
      () => loadControlPlaneConfig({ AGENTROUTER_AUDIT_RETENTION: '90' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /AGENTROUTER_AUDIT_RETENTION/.test(err.message) &&
        /90d/.test(err.message),
    )
    assert.throws(() => loadControlPlaneConfig({ AGENTROUTER_AUDIT_RETENTION: '10s' }), ConfigError)
  })
})

/** The session id (JTI) of a session token. */
async function decodeJti(token: string): Promise<string | undefined> {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    jti?: string
  }
  return payload.jti
}
