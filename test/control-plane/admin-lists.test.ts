/**
 * The admin listings (issue 12 item 2): customers, a customer's projects, a project's members
 * with roles, and every API key. Each returns what was created, pages (page size 1 walks every
 * item exactly once), filters, refuses non-admins, and names the field of a bad page_token or
 * page_size. The `tare api admin … list` commands print the same, as a table and as `--json`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Client } from '../../shared/client/index.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, http } from '../support/http.ts'
import { tare } from '../support/tare.ts'

/** Every item of a listing, fetched one per page; fails on a repeated id. */
async function walk<T>(
  fetchPage: (pageToken: string | undefined) => Promise<{ items: T[]; next: string }>,
  idOf: (item: T) => string,
): Promise<string[]> {
  const seen: string[] = []
  let token: string | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const { items, next } = await fetchPage(token)
    assert.ok(items.length <= 1, 'page size 1 gives at most one item')
    for (const item of items) {
      assert.ok(!seen.includes(idOf(item)), `${idOf(item)} seen twice`)
      seen.push(idOf(item))
    }
    if (!next) return seen
    token = next
  }
  assert.fail('the listing never ended')
}

describe('admin listings', () => {
  let cp: TestControlPlane
  let admin: Client
  let alice: LoginResult
  const customers: string[] = []
  const projects: string[] = []
  let opsKeyId = ''
  let dpKeyId = ''

  before(async () => {
    cp = await startControlPlane()
    admin = cp.admin
    alice = await cp.login('alice@example.com')
    for (const name of ['Acme', 'Globex', 'Initech'])
      customers.push((await admin.admin.createCustomer(name)).customer.id)
    for (const name of ['prod', 'staging', 'dev'])
      projects.push((await admin.admin.createProject(customers[0]!, name)).project.id)
    await admin.admin.setMember(customers[0]!, projects[0]!, alice.identityId, 'owner')
    opsKeyId = (await admin.admin.issueKey({ name: 'ops', type: 'KEY_TYPE_ADMIN' })).key.id
    dpKeyId = (await admin.admin.issueKey({ name: 'dp-eu', type: 'KEY_TYPE_DATAPLANE' })).key.id
    await alice.client.me.issueKey('alice-ci')
    await admin.admin.revokeKey(opsKeyId)
  })
  after(() => cp?.stop())

  it('customers: every one created, paged one at a time exactly once, and by name', async () => {
    const { customers: all } = await admin.admin.listCustomers()
    for (const id of customers)
      assert.ok(
        all.some((c) => c.id === id),
        `${id} listed`,
      )
    const acme = all.find((c) => c.id === customers[0])!
    assert.equal(acme.name, 'Acme')
    assert.match(acme.created_at, /^\d{4}-\d\d-\d\dT/)

    const walked = await walk(
      async (pageToken) => {
        const r = await admin.admin.listCustomers({ pageSize: 1, ...(pageToken ? { pageToken } : {}) })
        return { items: r.customers, next: r.page.next_page_token }
      },
      (c) => c.id,
    )
    assert.deepEqual(
      walked,
      all.map((c) => c.id),
    )

    const byName = await admin.admin.listCustomers({ name: 'Globex' })
    assert.deepEqual(
      byName.customers.map((c) => c.id),
      [customers[1]],
    )
  })

  it("projects: a customer's own, paged, by name; another customer's list is its own", async () => {
    const { projects: mine } = await admin.admin.listProjects(customers[0]!)
    assert.deepEqual(
      mine.map((p) => p.id),
      projects,
    )
    assert.deepEqual(
      mine.map((p) => p.name),
      ['prod', 'staging', 'dev'],
    )
    const walked = await walk(
      async (pageToken) => {
        const r = await admin.admin.listProjects(customers[0]!, {
          pageSize: 1,
          ...(pageToken ? { pageToken } : {}),
        })
        return { items: r.projects, next: r.page.next_page_token }
      },
      (p) => p.id,
    )
    assert.deepEqual(walked, projects)
    assert.deepEqual((await admin.admin.listProjects(customers[1]!)).projects, [])
    assert.deepEqual(
      (await admin.admin.listProjects(customers[0]!, { name: 'dev' })).projects.map((p) => p.id),
      [projects[2]],
    )
    // A page token is bound to its customer: it does not page through another's projects.
    const first = await admin.admin.listProjects(customers[0]!, { pageSize: 1 })
    const res = await http(cp.url, 'GET', `/v1/admin/customers/${customers[1]}/projects`, {
      token: cp.adminKey,
      query: { page_token: first.page.next_page_token },
    })
    assertError(res, 'invalid_argument', 'page_token')
    assertError(
      await http(cp.url, 'GET', '/v1/admin/customers/cust_01JD0000000000000000000000/projects', {
        token: cp.adminKey,
      }),
      'not_found',
    )
  })

  it('members: with their roles, paged, by role', async () => {
    const bob = await cp.login('bob@example.com')
    await admin.admin.setMember(customers[0]!, projects[0]!, bob.identityId, 'member')
    const { members } = await admin.admin.listMembers(customers[0]!, projects[0]!)
    const byId = new Map(members.map((m) => [m.identity_id, m]))
    assert.equal(byId.get(alice.identityId)?.role, 'owner')
    assert.equal(byId.get(alice.identityId)?.email, 'alice@example.com')
    assert.equal(byId.get(bob.identityId)?.role, 'member')
    assert.equal(members.length, 2)
    for (const m of members) assert.equal(m.project_id, projects[0])

    const walked = await walk(
      async (pageToken) => {
        const r = await admin.admin.listMembers(customers[0]!, projects[0]!, {
          pageSize: 1,
          ...(pageToken ? { pageToken } : {}),
        })
        return { items: r.members, next: r.page.next_page_token }
      },
      (m) => m.identity_id,
    )
    assert.deepEqual(walked.sort(), [alice.identityId, bob.identityId].sort())
    const owners = await admin.admin.listMembers(customers[0]!, projects[0]!, { role: 'owner' })
    assert.deepEqual(
      owners.members.map((m) => m.identity_id),
      [alice.identityId],
    )
    assert.deepEqual((await admin.admin.listMembers(customers[0]!, projects[1]!)).members, [])
  })

  it('keys: every key, metadata only, filtered by identity, type, state and project, paged', async () => {
    const res = await http(cp.url, 'GET', '/v1/admin/keys', {
      token: cp.adminKey,
      query: { page_size: '1000' },
    })
    assert.equal(res.status, 200, res.text)
    const all = res.body.keys as Array<Record<string, unknown>>
    const ids = all.map((k) => k.id)
    assert.ok(ids.includes(opsKeyId) && ids.includes(dpKeyId))
    // Bootstrap admin, local dataplane, ops, dp-eu, alice-ci.
    assert.equal(all.length, 5)
    // Never a token: no field holds one, and nothing in the answer looks like one.
    assert.doesNotMatch(res.text, /ak-[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{10,}/)
    for (const k of all)
      assert.deepEqual(
        Object.keys(k).filter((f) => /secret|token/.test(f)),
        [],
      )

    const walked = await walk(
      async (pageToken) => {
        const r = await admin.admin.listKeys({ pageSize: 1, ...(pageToken ? { pageToken } : {}) })
        return { items: r.keys, next: r.page.next_page_token }
      },
      (k) => k.id,
    )
    assert.deepEqual(walked, ids)

    const dataplane = await admin.admin.listKeys({ type: 'KEY_TYPE_DATAPLANE' })
    assert.ok(dataplane.keys.every((k) => k.type === 'KEY_TYPE_DATAPLANE'))
    assert.equal(dataplane.keys.length, 2)
    const revoked = await admin.admin.listKeys({ state: 'KEY_STATE_REVOKED' })
    assert.deepEqual(
      revoked.keys.map((k) => k.id),
      [opsKeyId],
    )
    const active = await admin.admin.listKeys({ state: 'KEY_STATE_ACTIVE' })
    assert.equal(active.keys.length, 4)
    const alices = await admin.admin.listKeys({ identityId: alice.identityId })
    assert.deepEqual(
      alices.keys.map((k) => k.name),
      ['alice-ci'],
    )
    const inProd = await admin.admin.listKeys({ projectId: projects[0]! })
    assert.deepEqual(
      inProd.keys.map((k) => k.name),
      ['alice-ci'],
    )
    assert.deepEqual((await admin.admin.listKeys({ projectId: projects[2]! })).keys, [])
  })

  it('refuses non-admins: a session without admin, a prompt key, a dataplane key, no credential', async () => {
    const prompt = (await alice.client.me.issueKey('alice-prompt')).secret
    const paths = [
      '/v1/admin/customers',
      `/v1/admin/customers/${customers[0]}/projects`,
      `/v1/admin/customers/${customers[0]}/projects/${projects[0]}/members`,
      '/v1/admin/keys',
      '/v1/admin/audit',
    ]
    for (const path of paths) {
      for (const [who, token] of [
        ['session', alice.sessionToken],
        ['prompt key', prompt],
        ['dataplane key', cp.dataplaneKey],
      ] as const) {
        assertError(
          await http(cp.url, 'GET', path, { token }),
          'permission_denied',
          undefined,
          `${who} ${path}`,
        )
      }
      assertError(await http(cp.url, 'GET', path), 'unauthenticated', undefined, path)
    }
  })

  it('bad page_token and page_size are invalid_argument naming the field', async () => {
    const keysPage = await admin.admin.listKeys({ pageSize: 1 })
    const paths = [
      '/v1/admin/customers',
      `/v1/admin/customers/${customers[0]}/projects`,
      `/v1/admin/customers/${customers[0]}/projects/${projects[0]}/members`,
      '/v1/admin/keys',
      '/v1/admin/audit',
    ]
    for (const path of paths) {
      for (const page_size of ['0', '1001', '-1', '1.5', 'ten', '01']) {
        const res = await http(cp.url, 'GET', path, { token: cp.adminKey, query: { page_size } })
        assertError(res, 'invalid_argument', 'page_size', `${path} page_size=${page_size}`)
      }
      for (const page_token of ['garbage', `${keysPage.page.next_page_token}x`, 'a.b']) {
        const res = await http(cp.url, 'GET', path, { token: cp.adminKey, query: { page_token } })
        assertError(res, 'invalid_argument', 'page_token', `${path} page_token=${page_token}`)
      }
    }
    // A valid token of one listing is refused by another.
    const res = await http(cp.url, 'GET', '/v1/admin/customers', {
      token: cp.adminKey,
      query: { page_token: keysPage.page.next_page_token },
    })
    assertError(res, 'invalid_argument', 'page_token')
    for (const [query, field] of [
      [{ type: 'KEY_TYPE_ROOT' }, 'type'],
      [{ state: 'gone' }, 'state'],
      [{ identity_id: 'bob' }, 'identity_id'],
      [{ project_id: 'proj_x' }, 'project_id'],
      [{ colour: 'red' }, 'colour'],
    ] as const) {
      assertError(
        await http(cp.url, 'GET', '/v1/admin/keys', { token: cp.adminKey, query }),
        'invalid_argument',
        field,
      )
    }
  })

  it('tare lists each as a table and as JSON', async () => {
    const env = { baseUrl: cp.url, apiKey: cp.adminKey }
    const table = await tare(['api', 'admin', 'customers', 'list'], env)
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^ID\s+NAME\s+CREATED/m)
    for (const name of ['Acme', 'Globex', 'Initech'])
      assert.match(table.stdout, new RegExp(`cust_\\w+\\s+${name}\\s`))

    const json = await tare(['api', 'admin', 'customers', 'list', '--json', '--page-size', '1'], env)
    assert.equal(json.code, 0, json.stderr)
    const parsed = JSON.parse(json.stdout)
    assert.equal(parsed.customers.length, 1)
    assert.notEqual(parsed.page.next_page_token, '')

    const projectsOut = await tare(['api', 'admin', 'projects', 'list', customers[0]!], env)
    assert.equal(projectsOut.code, 0, projectsOut.stderr)
    for (const p of projects) assert.ok(projectsOut.stdout.includes(p))

    const membersOut = await tare(
      ['api', 'admin', 'members', 'list', customers[0]!, projects[0]!, '--role', 'owner'],
      env,
    )
    assert.equal(membersOut.code, 0, membersOut.stderr)
    assert.match(membersOut.stdout, new RegExp(`${alice.identityId}\\s+alice@example.com\\s+.*owner`))
    assert.doesNotMatch(membersOut.stdout, /bob@example.com/)

    const keysOut = await tare(['api', 'admin', 'keys', 'list', '--state', 'revoked', '--json'], env)
    assert.equal(keysOut.code, 0, keysOut.stderr)
    assert.deepEqual(
      JSON.parse(keysOut.stdout).keys.map((k: { id: string }) => k.id),
      [opsKeyId],
    )
    const keysTable = await tare(['api', 'admin', 'keys', 'list', '--type', 'dataplane'], env)
    assert.equal(keysTable.code, 0, keysTable.stderr)
    assert.ok(keysTable.stdout.includes(dpKeyId))
    assert.ok(!keysTable.stdout.includes(opsKeyId))

    const refused = await tare(['api', 'admin', 'keys', 'list'], {
      baseUrl: cp.url,
      apiKey: alice.sessionToken,
    })
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /permission_denied/)
  })
})
