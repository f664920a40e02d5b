/**
 * The real `tare` binary against a real control plane: the browser login through the development
 * IdP, then every command of the seeds' table and the admin commands, their `--json` output
 * against the API's own answer, and the exit statuses (0, 1 with the code, 2 naming the problem).
 */
import assert from 'node:assert/strict'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type {
  AdminIssueKeyResponse,
  CustomerResponse,
  GetMeResponse,
  IssueMyKeyResponse,
  ListAiKeysResponse,
  ListMyKeysResponse,
  ProjectResponse,
  RegisterAiKeyResponse,
} from '../../shared/client/index.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { tempDir } from '../support/process.ts'
import { startTare, type TareEnv, tare, tareJson, tareLogin } from '../support/tare.ts'

describe('tare against a running control plane', () => {
  let cp: TestControlPlane
  let admin: TareEnv
  /** Alice's config dir holds the session `tare api login` stored. */
  const aliceHome = tempDir('tare-alice-')
  let alice: TareEnv
  let aliceIdentity: GetMeResponse['identity']

  before(async () => {
    cp = await startControlPlane()
    admin = { baseUrl: cp.url, apiKey: cp.adminKey }
    alice = { baseUrl: cp.url, configHome: aliceHome }
  })
  after(() => cp?.stop())

  describe('login, session, logout', () => {
    it('tare api login completes the loopback PKCE flow in a browser and stores the session with mode 0600', async () => {
      const { result, authorizationUrl, redirectUri, landing } = await tareLogin(alice, 'alice@example.com', [
        '--timeout',
        '60',
      ])
      assert.match(redirectUri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/)
      assert.equal(new URL(authorizationUrl).searchParams.get('code_challenge_method'), 'S256')
      assert.equal(landing.status, 200)
      assert.match(await landing.text(), /Logged in to AgentRouter as alice@example\.com/)
      assert.equal(result.code, 0, result.stderr)
      assert.match(result.stdout, /Logged in as alice@example\.com/)

      const file = join(aliceHome, 'agentrouter', 'session.json')
      assert.equal(statSync(file).mode & 0o777, 0o600)
      assert.equal(statSync(join(aliceHome, 'agentrouter')).mode & 0o777, 0o700)
      const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
      assert.equal(stored.base_url, cp.url)
      assert.match(stored.session_token!, /^eyJ/)
      assert.ok(!result.stdout.includes(stored.session_token!), 'the token is stored, not printed')
    })

    it('tare api whoami works from the stored session alone', async () => {
      const me = await tareJson<GetMeResponse>(['api', 'whoami'], alice)
      assert.equal(me.identity.email, 'alice@example.com')
      assert.ok(
        me.identity.memberships.some((m) => m.role === 'owner'),
        'a personal project, owned',
      )
      aliceIdentity = me.identity
      const human = await tare(['api', 'whoami'], alice)
      assert.equal(human.code, 0)
      assert.match(human.stdout, /^email: +alice@example\.com$/m)
    })

    it('a redirect that does not carry the login’s state is ignored, and the login times out with exit 1', async () => {
      const login = startTare(['api', 'login', '--no-browser', '--timeout', '4'], {
        baseUrl: cp.url,
        configHome: tempDir(),
      })
      const [authorizationUrl] = await login.waitFor(/http:\/\/\S+\/auth\?\S+/)
      const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri')!
      const forged = await fetch(`${redirectUri}?code=stolen&state=not-the-state`)
      assert.equal(forged.status, 400)
      const result = await login.done
      assert.equal(result.code, 1)
      assert.match(result.stderr, /deadline_exceeded: no login completed within 4 s/)
    })
  })

  describe('keys', () => {
    let created: IssueMyKeyResponse

    it('keys create --json prints the API response, the secret included, once', async () => {
      created = await tareJson<IssueMyKeyResponse>(['api', 'keys', 'create', '--name', 'ci-runner'], alice)
      assert.equal(created.key.name, 'ci-runner')
      assert.equal(created.key.type, 'KEY_TYPE_PROMPT')
      assert.match(created.secret, /^ak-eyJ/)
      const list = await cp.client(created.secret).me.listKeys()
      assert.ok(
        list.keys.some((k) => k.id === created.key.id),
        'the new key works and lists itself',
      )
    })

    it('keys create with the same --idempotency-key returns the same key', async () => {
      const args = ['api', 'keys', 'create', '--name', 'deploy', '--idempotency-key', 'deploy-1']
      const first = await tareJson<IssueMyKeyResponse>(args, alice)
      const second = await tareJson<IssueMyKeyResponse>(args, alice)
      assert.equal(second.key.id, first.key.id)
    })

    it('keys create for people prints a record and the secret, with the warning on stderr', async () => {
      const r = await tare(['api', 'keys', 'create', '--name', 'laptop', '--type', 'prompt'], alice)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^name: +laptop$/m)
      assert.match(r.stdout, /^ak-eyJ\S+$/m)
      assert.match(r.stderr, /only time the key is shown/)
    })

    it('keys list --json equals GET /v1/me/keys; the table names its columns', async () => {
      const listed = await tareJson<ListMyKeysResponse>(['api', 'keys', 'list'], alice)
      const session = JSON.parse(readFileSync(join(aliceHome, 'agentrouter', 'session.json'), 'utf8'))
      assert.deepEqual(listed, await cp.client(session.session_token).me.listKeys())
      const paged = await tareJson<ListMyKeysResponse>(['api', 'keys', 'list', '--page-size', '1'], alice)
      assert.equal(paged.keys.length, 1)
      assert.ok(paged.page.next_page_token)
      const human = await tare(['api', 'keys', 'list'], alice)
      assert.match(human.stdout, /^ID +NAME +TYPE +STATE/m)
      assert.match(human.stdout, /ci-runner +prompt +active/)
    })

    it('keys revoke --wait revokes the key; with no dataplane to confirm it, exit 3', async () => {
      const r = await tare(['api', 'keys', 'revoke', created.key.id, '--wait', '--json'], alice)
      assert.equal(r.code, 3, r.stderr)
      const revoked = JSON.parse(r.stdout) as { key: { state: string }; enforcement: { status: string } }
      assert.equal(revoked.key.state, 'KEY_STATE_REVOKED')
      assert.equal(revoked.enforcement.status, 'no_dataplanes')
      assert.match(JSON.parse(r.stderr).message, /no dataplane is connected/)
      const refused = await tare(['api', 'whoami'], { baseUrl: cp.url, apiKey: created.secret })
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^error: unauthenticated: /m)
    })
  })

  describe('byok', () => {
    let registered: RegisterAiKeyResponse

    it('byok add reads the provider key from stdin with --secret -', async () => {
      registered = await tareJson<RegisterAiKeyResponse>(
        ['api', 'byok', 'add', '--provider', 'openai', '--name', 'openai-prod', '--secret', '-'],
        alice,
        'sk-test-from-stdin-1234\n',
      )
      assert.equal(registered.key.provider, 'openai')
      assert.equal(registered.key.display_suffix, '1234')
      assert.equal(registered.key.user_scope, false)
    })

    it('byok add reads it from a file with --secret @FILE, user-scoped', async () => {
      const file = join(tempDir(), 'anthropic.key')
      writeFileSync(file, 'sk-ant-from-file-9876\n', { mode: 0o600 })
      const mine = await tareJson<RegisterAiKeyResponse>(
        [
          'api',
          'byok',
          'add',
          '--provider',
          'anthropic',
          '--name',
          'mine',
          '--secret',
          `@${file}`,
          '--user-scope',
        ],
        alice,
      )
      assert.equal(mine.key.display_suffix, '9876')
      assert.equal(mine.key.user_scope, true)
    })

    it('byok get, list and remove, with explicit --customer and --project', async () => {
      const scope = [
        '--customer',
        aliceIdentity.default_customer_id,
        '--project',
        aliceIdentity.default_project_id,
      ]
      const got = await tareJson<RegisterAiKeyResponse>(
        ['api', 'byok', 'get', registered.key.id, ...scope],
        alice,
      )
      assert.deepEqual(got.key, registered.key)
      const listed = await tareJson<ListAiKeysResponse>(['api', 'byok', 'list'], alice)
      assert.deepEqual(listed.keys.map((k) => k.name).sort(), ['mine', 'openai-prod'])
      const human = await tare(['api', 'byok', 'list', ...scope], alice)
      assert.match(human.stdout, /openai-prod +…1234 +project/)
      const removed = await tareJson<RegisterAiKeyResponse>(
        ['api', 'byok', 'remove', registered.key.id],
        alice,
      )
      assert.ok(removed.key.revoked_at)
    })
  })

  describe('secret', () => {
    const valueFile = join(tempDir(), 'rotated.txt')

    it('secret create reads --value from stdin, tags it, and never prints the value', async () => {
      const r = await tare(
        [
          'api',
          'secret',
          'create',
          'openai-api-key',
          '--realm',
          'integrations',
          '--value',
          '-',
          '--tag',
          'env=prod',
        ],
        admin,
        'sk-live-secret-value\n',
      )
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^name: +openai-api-key$/m)
      assert.match(r.stdout, /^tags: +env=prod$/m)
      assert.ok(!r.stdout.includes('sk-live-secret-value'))
    })

    it('secret get and list --json equal the API; list filters by tag', async () => {
      const got = await tareJson(
        ['api', 'secret', 'get', '--name', 'openai-api-key', '--realm', 'integrations'],
        admin,
      )
      assert.deepEqual(
        got,
        await cp.admin.secret.getSecret({ name: 'openai-api-key', realm: 'integrations' }),
      )
      const listed = await tareJson<{ secrets: Array<{ name: string }> }>(
        ['api', 'secret', 'list', '--realm', 'integrations', '--tag', 'env=prod'],
        admin,
      )
      assert.deepEqual(
        listed.secrets.map((s) => s.name),
        ['openai-api-key'],
      )
      const none = await tareJson<{ secrets: unknown[] }>(
        ['api', 'secret', 'list', '--tags', 'env=dev'],
        admin,
      )
      assert.deepEqual(none.secrets, [])
    })

    it('secret rotate reads --new-value @FILE; validate and secret-value get see the new version', async () => {
      writeFileSync(valueFile, 'sk-live-rotated\n')
      const ref = ['openai-api-key', '--realm', 'integrations']
      const rotated = await tareJson<{ secret: { version: number } }>(
        ['api', 'secret', 'rotate', ...ref, '--new-value', `@${valueFile}`],
        admin,
      )
      assert.equal(rotated.secret.version, 2)
      const valid = await tareJson(['api', 'secret', 'validate', ...ref], admin)
      assert.deepEqual(valid, { valid: true, error: '' })
      const plain = await tare(['api', 'secret', 'secret-value', 'get', ...ref], admin)
      assert.equal(plain.code, 0, plain.stderr)
      assert.equal(plain.stdout, 'sk-live-rotated\n')
    })

    it('secret delete removes it; a second get is not_found with exit 1', async () => {
      const deleted = await tareJson(
        ['api', 'secret', 'delete', 'openai-api-key', '--realm', 'integrations'],
        admin,
      )
      assert.deepEqual(deleted, { success: true })
      const gone = await tare(['api', 'secret', 'get', 'openai-api-key', '--realm', 'integrations'], admin)
      assert.equal(gone.code, 1)
      assert.match(gone.stderr, /^error: not_found: /m)
    })
  })

  describe('tokens, auth', () => {
    it('tokens revocation-list get --json equals the API, with --since and --limit', async () => {
      const all = await tareJson<{ revocations: Array<{ jti: string }>; snapshot_at: string }>(
        ['api', 'tokens', 'revocation-list', 'get'],
        admin,
      )
      assert.ok(all.revocations.length >= 1, 'the key revoked above is listed')
      assert.deepEqual(all, await cp.admin.tokens.getRevocationList())
      const first = await tareJson<{ revocations: unknown[]; snapshot_at: string; total_count: number }>(
        ['api', 'tokens', 'revocation-list', 'get', '--limit', '1'],
        admin,
      )
      assert.equal(first.revocations.length, 1)
      const rest = await tareJson<{ revocations: unknown[] }>(
        ['api', 'tokens', 'revocation-list', 'get', '--since', first.snapshot_at],
        admin,
      )
      assert.equal(rest.revocations.length, all.revocations.length - 1)
    })

    it('auth jwks get --json equals /.well-known/jwks.json, with no credential at all', async () => {
      const jwks = await tareJson(['api', 'auth', 'jwks', 'get'], { baseUrl: cp.url })
      assert.deepEqual(jwks, await (await fetch(`${cp.url}/.well-known/jwks.json`)).json())
    })
  })

  describe('admin', () => {
    it('customers create, projects create, members set and remove', async () => {
      const { customer } = await tareJson<CustomerResponse>(
        ['api', 'admin', 'customers', 'create', '--name', 'Acme'],
        admin,
      )
      assert.match(customer.id, /^cust_/)
      const { project } = await tareJson<ProjectResponse>(
        ['api', 'admin', 'projects', 'create', customer.id, '--name', 'production'],
        admin,
      )
      assert.equal(project.customer_id, customer.id)
      const set = await tareJson<{ member: { role: string } }>(
        ['api', 'admin', 'members', 'set', customer.id, project.id, aliceIdentity.id, '--role', 'member'],
        admin,
      )
      assert.equal(set.member.role, 'member')
      const me = await tareJson<GetMeResponse>(['api', 'whoami'], alice)
      assert.ok(me.identity.memberships.some((m) => m.project_id === project.id && m.role === 'member'))
      const removed = await tareJson(
        [
          'api',
          'admin',
          'members',
          'remove',
          '--customer',
          customer.id,
          '--project',
          project.id,
          '--identity',
          aliceIdentity.id,
        ],
        admin,
      )
      assert.deepEqual(removed, { success: true })
    })

    it('identities list --email finds the identity the login created', async () => {
      const found = await tareJson<{ identities: Array<{ id: string }> }>(
        ['api', 'admin', 'identities', 'list', '--email', 'alice@example.com'],
        admin,
      )
      assert.deepEqual(
        found.identities.map((i) => i.id),
        [aliceIdentity.id],
      )
    })

    it('admin keys create --type KEY_TYPE_DATAPLANE issues a dataplane key; admin keys revoke ends it', async () => {
      const issued = await tareJson<AdminIssueKeyResponse>(
        ['api', 'admin', 'keys', 'create', '--name', 'dp-eu-1', '--type', 'KEY_TYPE_DATAPLANE'],
        admin,
      )
      assert.equal(issued.key.type, 'KEY_TYPE_DATAPLANE')
      const revocations = await tare(['api', 'tokens', 'revocation-list', 'get', '--limit', '1'], {
        baseUrl: cp.url,
        apiKey: issued.secret,
      })
      assert.equal(revocations.code, 0, 'a dataplane key reads the revocation list')
      const revoked = await tareJson<{ key: { state: string } }>(
        ['api', 'admin', 'keys', 'revoke', issued.key.id],
        admin,
      )
      assert.equal(revoked.key.state, 'KEY_STATE_REVOKED')
      const refused = await tare(['api', 'tokens', 'revocation-list', 'get'], {
        baseUrl: cp.url,
        apiKey: issued.secret,
      })
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^error: unauthenticated: /m)
    })

    it('dataplanes list, signing-keys rotate and keks rotate', async () => {
      const dataplanes = await tareJson<{ dataplanes: unknown[] }>(
        ['api', 'admin', 'dataplanes', 'list'],
        admin,
      )
      assert.deepEqual(dataplanes, await cp.admin.admin.listDataplanes())
      const rotated = await tareJson<{ kid: string }>(
        ['api', 'admin', 'signing-keys', 'rotate', '--activate-after-ms', '0'],
        admin,
      )
      const jwks = await cp.admin.auth.getJWKS()
      assert.ok(jwks.keys.some((k) => k.kid === rotated.kid))
      const kek = await tareJson<{ kek_id: string }>(['api', 'admin', 'keks', 'rotate'], admin)
      assert.ok(kek.kek_id)
    })
  })

  describe('exit statuses', () => {
    // The rest of the usage errors are checked in-process in usage.test.ts; these go through the binary.
    const usage: Array<[string[], RegExp]> = [
      [['api', 'keys', 'create'], /tare api keys create: --name is required/],
      [['api', 'keys', 'create', '--name', 'x', '--colour', 'red'], /unknown option --colour/],
      [
        ['api', 'kyes', 'list'],
        /unknown command "kyes" for "tare api" \(one of: login, logout, whoami, keys/,
      ],
    ]
    // Independent and short: run them side by side.
    describe('usage errors exit 2 naming the problem', { concurrency: 3 }, () => {
      for (const [args, message] of usage) {
        it(`tare ${args.join(' ')}`, async () => {
          const r = await tare(args, admin)
          assert.equal(r.code, 2, r.stderr)
          assert.match(r.stderr, message)
          assert.equal(r.stdout, '')
        })
      }
    })

    it('an API error exits 1 with its code and field on stderr', async () => {
      const r = await tare(['api', 'keys', 'revoke', 'key_nope'], alice)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^error: invalid_argument: key_id: must be key_<ulid>$/m)
    })

    it('a persona mismatch is permission_denied, exit 1', async () => {
      const r = await tare(['api', 'keys', 'create', '--name', 'x'], admin)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^error: permission_denied: /m)
    })

    it('without any credential: unauthenticated, exit 1, and a hint to log in', async () => {
      const r = await tare(['api', 'whoami'], { baseUrl: cp.url })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^error: unauthenticated: /m)
      assert.match(r.stderr, /hint: not logged in to http:\/\/127\.0\.0\.1:\d+: run "tare api login"/)
    })

    it('an unreachable control plane is unavailable, exit 1', async () => {
      const r = await tare(['api', 'whoami', '--base-url', 'http://127.0.0.1:9'], admin)
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^error: unavailable: /m)
      assert.match(r.stderr, /hint: is the control plane running at http:\/\/127\.0\.0\.1:9\?/)
    })

    it('the stored session is not sent to another control plane', async () => {
      const seen: Array<string | undefined> = []
      const other = createServer((req, res) => {
        seen.push(req.headers.authorization)
        res.writeHead(401, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ code: 'unauthenticated', message: 'no credential', details: [] }))
      })
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
      const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
      try {
        const r = await tare(['api', 'whoami', '--base-url', otherUrl], alice)
        assert.equal(r.code, 1)
        assert.deepEqual(seen, [undefined], 'no Authorization header went to the other server')
        assert.match(r.stderr, new RegExp(`hint: not logged in to ${otherUrl}`))
      } finally {
        other.close()
      }
    })

    it('--help exits 0 and prints usage on stdout', async () => {
      const r = await tare(['api', 'secret', 'create', '--help'])
      assert.equal(r.code, 0)
      assert.match(r.stdout, /^Usage: tare api secret create \[NAME\] --value VALUE \[options\]$/m)
      assert.match(r.stdout, /- reads stdin, @FILE a file/)
    })
  })

  describe('logout', () => {
    let staleSession: Record<string, string> = {}
    it('tare api logout revokes the session and deletes the file; whoami then asks for a login', async () => {
      const session = JSON.parse(readFileSync(join(aliceHome, 'agentrouter', 'session.json'), 'utf8'))
      staleSession = session
      const r = await tare(['api', 'logout'], alice)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /Logged out\./)
      assert.throws(() => statSync(join(aliceHome, 'agentrouter', 'session.json')), { code: 'ENOENT' })
      await assert.rejects(cp.client(session.session_token).me.get(), { code: 'unauthenticated' })
      const after = await tare(['api', 'whoami'], alice)
      assert.equal(after.code, 1)
      assert.match(after.stderr, /hint: not logged in/)
      const again = await tare(['api', 'logout'], alice)
      assert.equal(again.code, 0, 'logged out twice is still logged out')
      assert.match(again.stderr, /Not logged in/)
    })

    it('logging out a session that has already ended only forgets it locally', async () => {
      const file = join(aliceHome, 'agentrouter', 'session.json')
      writeFileSync(file, JSON.stringify({ ...staleSession, base_url: cp.url }), { mode: 0o600 })
      const r = await tare(['api', 'logout'], alice)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stderr, /The stored session had already ended/)
      assert.throws(() => statSync(file), { code: 'ENOENT' })
    })
  })

  it('a LoginResult helper session works with AGENTROUTER_API_KEY too (the seeds’ $SESSION_TOKEN)', async () => {
    const bob: LoginResult = await cp.login('bob@example.com')
    const created = await tareJson<IssueMyKeyResponse>(['api', 'keys', 'create', '--name', 'bob-key'], {
      baseUrl: cp.url,
      apiKey: bob.sessionToken,
    })
    assert.equal(created.key.identity_id, bob.identityId)
  })
})
