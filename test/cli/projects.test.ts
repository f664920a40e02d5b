/**
 * The `tare` commands for project-bound keys and service accounts, as the real binary against a
 * real control plane: `keys create --project`, the project column of `keys list`, `admin
 * service-accounts create | list | delete`, and `admin keys create --type KEY_TYPE_PROMPT
 * --identity ID --project P`; their `--json` output against the API, and refusals exiting 1
 * with the contract's code.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type {
  AdminIssueKeyResponse,
  IssueMyKeyResponse,
  ListMyKeysResponse,
} from '../../shared/client/index.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { type TareEnv, tare, tareJson } from '../support/tare.ts'

interface ServiceAccountJson {
  service_account: { id: string; kind: string; memberships: { project_id: string; role: string }[] }
}

describe('tare: project-bound keys and service accounts', () => {
  let cp: TestControlPlane
  let admin: TareEnv
  let user: LoginResult
  let asUser: TareEnv
  let customerId: string
  let projectId: string
  let strangerProjectId: string

  before(async () => {
    cp = await startControlPlane()
    admin = { baseUrl: cp.url, apiKey: cp.adminKey }
    user = await cp.login('dev@example.com')
    asUser = { baseUrl: cp.url, apiKey: user.sessionToken }
    customerId = (await cp.admin.admin.createCustomer('acme')).customer.id
    projectId = (await cp.admin.admin.createProject(customerId, 'web')).project.id
    strangerProjectId = (await cp.admin.admin.createProject(customerId, 'secret')).project.id
    await cp.admin.admin.setMember(customerId, projectId, user.identityId, 'member')
  })
  after(() => cp?.stop())

  it('keys create --project binds the key; keys list shows each key’s project', async () => {
    const bound = await tareJson<IssueMyKeyResponse>(
      ['api', 'keys', 'create', '--name', 'web', '--project', projectId, '--customer', customerId],
      asUser,
    )
    assert.equal(bound.key.project_id, projectId)
    assert.equal(bound.key.customer_id, customerId)
    const unbound = await tareJson<IssueMyKeyResponse>(['api', 'keys', 'create', '--name', 'any'], asUser)
    assert.equal(unbound.key.project_id, undefined)

    const listed = await tareJson<ListMyKeysResponse>(['api', 'keys', 'list'], asUser)
    assert.deepEqual(listed, await user.client.me.listKeys())
    const human = await tare(['api', 'keys', 'list'], asUser)
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout.split('\n')[0]!, /\bPROJECT\b/)
    const webLine = human.stdout.split('\n').find((l) => l.includes(bound.key.id))!
    assert.ok(webLine.includes(projectId), webLine)
    const anyLine = human.stdout.split('\n').find((l) => l.includes(unbound.key.id))!
    assert.ok(!anyLine.includes('proj_'), anyLine)
  })

  it('keys create --project of a project the caller is not in exits 1 with permission_denied; a bad id, with invalid_argument', async () => {
    const refused = await tare(
      ['api', 'keys', 'create', '--name', 'x', '--project', strangerProjectId],
      asUser,
    )
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^error: permission_denied: /m)
    const bad = await tare(['api', 'keys', 'create', '--name', 'x', '--project', 'web'], asUser)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /invalid_argument/)
    assert.match(bad.stderr, /project_id/)
  })

  it('admin service-accounts create, list; admin keys create --type KEY_TYPE_PROMPT --identity --project; delete revokes its key', async () => {
    const created = await tareJson<ServiceAccountJson>(
      [
        'api',
        'admin',
        'service-accounts',
        'create',
        '--name',
        'ci',
        '--customer',
        customerId,
        '--project',
        projectId,
      ],
      admin,
    )
    const id = created.service_account.id
    assert.match(id, /^usr_/)
    assert.equal(created.service_account.kind, 'service')
    assert.deepEqual(
      created.service_account.memberships.map((m) => [m.project_id, m.role]),
      [[projectId, 'member']],
    )

    const listed = await tareJson(['api', 'admin', 'service-accounts', 'list'], admin)
    assert.deepEqual(listed, await cp.admin.admin.listServiceAccounts())
    const table = await tare(['api', 'admin', 'service-accounts', 'list'], admin)
    assert.ok(table.stdout.includes(id) && table.stdout.includes(`${projectId} (member)`), table.stdout)

    const issued = await tareJson<AdminIssueKeyResponse>(
      [
        'api',
        'admin',
        'keys',
        'create',
        '--name',
        'ci',
        '--type',
        'KEY_TYPE_PROMPT',
        '--identity',
        id,
        '--project',
        projectId,
      ],
      admin,
    )
    assert.equal(issued.key.type, 'KEY_TYPE_PROMPT')
    assert.equal(issued.key.identity_id, id)
    assert.equal(issued.key.project_id, projectId)

    // The service account's key reads its own identity and nothing else.
    const whoami = await tare(['api', 'whoami', '--json'], { baseUrl: cp.url, apiKey: issued.secret })
    assert.equal(whoami.code, 0, whoami.stderr)
    assert.equal(JSON.parse(whoami.stdout).identity.id, id)
    const keys = await tare(['api', 'keys', 'list'], { baseUrl: cp.url, apiKey: issued.secret })
    assert.equal(keys.code, 1)
    assert.match(keys.stderr, /^error: permission_denied: /m)

    const deleted = await tare(['api', 'admin', 'service-accounts', 'delete', id], admin)
    assert.equal(deleted.code, 0, deleted.stderr)
    assert.match(deleted.stdout, new RegExp(`Removed ${id}; revoked 1 key\\(s\\)`))
    assert.ok(deleted.stdout.includes(issued.key.id))
    const after = await tare(['api', 'whoami'], { baseUrl: cp.url, apiKey: issued.secret })
    assert.equal(after.code, 1)
    assert.match(after.stderr, /^error: unauthenticated: /m)
    const again = await tare(['api', 'admin', 'service-accounts', 'delete', id], admin)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^error: not_found: /m)
  })

  it('admin keys create --type prompt needs --identity: exit 1 naming identity_id; a bad --role exits 2', async () => {
    const noIdentity = await tare(
      ['api', 'admin', 'keys', 'create', '--name', 'x', '--type', 'prompt'],
      admin,
    )
    assert.equal(noIdentity.code, 1)
    assert.match(noIdentity.stderr, /invalid_argument/)
    assert.match(noIdentity.stderr, /identity_id/)
    const badRole = await tare(
      [
        'api',
        'admin',
        'service-accounts',
        'create',
        '--name',
        'x',
        '--customer',
        customerId,
        '--project',
        projectId,
        '--role',
        'root',
      ],
      admin,
    )
    assert.equal(badRole.code, 2, badRole.stderr)
    assert.match(badRole.stderr, /--role/)
  })
})
