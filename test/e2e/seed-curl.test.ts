/**
 * The documents' curl lines, run as written by a real `curl` against `npm start`: only the
 * placeholders ("...", key_01H..., cust_01H..., …) are filled with real values, and output flags
 * are appended so the test can read the status.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Client } from '../../shared/client/index.ts'
import { LOOPBACK_REDIRECT, type LoginResult, loginThroughDevIdp } from '../support/control-plane.ts'
import { type SeedEndpoint, seedEndpoints } from '../support/documents.ts'
import { pkcePair } from '../support/pkce.ts'
import { startStack, type TestStack } from '../support/stack.ts'

const run = promisify(execFile)

async function curl(
  command: string,
  env: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  const { stdout } = await run('bash', ['-c', `${command} -sS -w '\\n%{http_code}'`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  })
  const nl = stdout.lastIndexOf('\n')
  const text = stdout.slice(0, nl)
  return { status: Number(stdout.slice(nl + 1)), body: text ? JSON.parse(text) : undefined }
}

/** Fills `"field": "..."` placeholders in a JSON body with the given values. */
function fill(command: string, values: Record<string, string>): string {
  return command.replace(/"(\w+)": "\.\.\."/g, (whole, field: string) =>
    field in values ? `"${field}": ${JSON.stringify(values[field])}` : whole,
  )
}

describe('the seed documents’ curl lines against npm start', () => {
  let stack: TestStack
  let user: LoginResult
  let promptKey: string
  const endpoints = seedEndpoints()

  before(async () => {
    stack = await startStack()
    user = await loginThroughDevIdp(stack.controlPlaneUrl, 'curl-user@example.com')
    promptKey = (await user.client.me.issueKey('curl-prompt-key')).secret
  })
  after(() => stack?.stop())

  const envFor = (apiKey: string, session = user.sessionToken) => ({
    AGENTROUTER_BASE_URL: stack.controlPlaneUrl,
    AGENTROUTER_API_KEY: apiKey,
    SESSION_TOKEN: session,
  })
  const endpoint = (verb: string, path: string): SeedEndpoint => {
    const found = endpoints.find((e) => e.verb === verb && e.path === path)
    assert.ok(found, `${verb} ${path} is documented`)
    return found
  }

  it('covers all 19 documented endpoints', () => {
    assert.equal(endpoints.length, 19)
  })

  it('POST /v1/auth/login', async () => {
    const cmd = fill(endpoint('POST', '/v1/auth/login').curl, {
      issuer: 'dev',
      redirect_uri: LOOPBACK_REDIRECT,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
    })
    const res = await curl(cmd, envFor(promptKey))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.match(
      (res.body as { authorization_url: string }).authorization_url,
      /^http:\/\/127\.0\.0\.1:\d+\//,
    )
  })

  it('GET /v1/me, with and without the ak- prefix the documents add', async () => {
    const res = await curl(endpoint('GET', '/v1/me').curl, envFor(promptKey))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal((res.body as { identity: { id: string } }).identity.id, user.identityId)
    // The shell expands these, not JavaScript: the document's line, with the ak- prefix added.
    const shellKey = '$' + '{AGENTROUTER_API_KEY}'
    const prefixed = endpoint('GET', '/v1/me').curl.replace(`Bearer ${shellKey}`, `Bearer ak-${shellKey}`)
    assert.match(prefixed, /Bearer ak-\$\{AGENTROUTER_API_KEY\}/)
    assert.equal((await curl(prefixed, envFor(promptKey))).status, 200)
  })

  it('POST /v1/me/keys, then GET and DELETE', async () => {
    const issue = fill(endpoint('POST', '/v1/me/keys').curl, {
      name: 'curl key',
      type: 'KEY_TYPE_PROMPT',
      idempotency_key: 'seed-curl-1',
    })
    const issued = await curl(issue, envFor(promptKey))
    assert.equal(issued.status, 200, JSON.stringify(issued.body))
    const { key, secret } = issued.body as { key: { id: string }; secret: string }
    assert.match(secret, /^ak-/)

    const listed = await curl(endpoint('GET', '/v1/me/keys').curl, envFor(secret))
    assert.equal(listed.status, 200)
    assert.ok((listed.body as { keys: Array<{ id: string }> }).keys.some((k) => k.id === key.id))

    const revoke = endpoint('DELETE', '/v1/me/keys/{key_id}').curl.replace('key_01H...', key.id)
    const revoked = await curl(revoke, envFor(promptKey))
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body))
    assert.equal((await curl(endpoint('GET', '/v1/me').curl, envFor(secret))).status, 401)
  })

  it('the AI-key endpoints: register, get, list, revoke', async () => {
    const scope = (cmd: string) =>
      cmd.replace('cust_01H...', user.customerId).replace('proj_01H...', user.projectId)
    const register = fill(
      scope(endpoint('POST', '/v1/customers/{customer_id}/projects/{project_id}/aikeys').curl),
      {
        provider: 'openai',
        name: 'openai-prod',
        secret: 'sk-test-curl-0123456789',
      },
    )
    const registered = await curl(register, envFor(promptKey))
    assert.equal(registered.status, 200, JSON.stringify(registered.body))
    const id = (registered.body as { key: { id: string } }).key.id
    assert.match(id, /^byok_/)
    const withId = (cmd: string) => scope(cmd).replace('aikeys/01H...', `aikeys/${id}`)

    const got = await curl(
      withId(endpoint('GET', '/v1/customers/{customer_id}/projects/{project_id}/aikeys/{id}').curl),
      envFor(promptKey),
    )
    assert.equal(got.status, 200, JSON.stringify(got.body))
    assert.equal((got.body as { key: { display_suffix: string } }).key.display_suffix, '6789')

    const listed = await curl(
      scope(endpoint('GET', '/v1/customers/{customer_id}/projects/{project_id}/aikeys').curl),
      envFor(promptKey),
    )
    assert.equal(listed.status, 200)
    assert.ok((listed.body as { keys: Array<{ id: string }> }).keys.some((k) => k.id === id))

    const revoked = await curl(
      withId(endpoint('DELETE', '/v1/customers/{customer_id}/projects/{project_id}/aikeys/{id}').curl),
      envFor(promptKey),
    )
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body))
    assert.ok((revoked.body as { key: { revoked_at?: string } }).key.revoked_at)
  })

  it('GET /v1/tokens/revocations with the admin key', async () => {
    const res = await curl(endpoint('GET', '/v1/tokens/revocations').curl, envFor(stack.adminKey))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const body = res.body as { revocations: Array<{ kind: string }>; total_count: number }
    assert.ok(body.total_count >= 2, 'the revoked API key and AI key are listed')
    assert.ok(body.revocations.some((r) => r.kind === 'ai_key'))
  })

  it('the secret endpoints, in the order an operator would use them', async () => {
    const env = envFor(stack.adminKey)
    const admin = new Client({ baseUrl: stack.controlPlaneUrl, apiKey: stack.adminKey })
    const adminId = (await admin.me.get()).identity.id
    const create = fill(endpoint('POST', '/v1/secrets').curl, {
      name: 'openai-api-key',
      realm: 'integrations',
      description: 'shared OpenAI key',
      value: 'sk-curl-secret-value',
      user_id: adminId,
    })
    const created = await curl(create, env)
    assert.equal(created.status, 200, JSON.stringify(created.body))
    const secret = (created.body as { secret: { id: string; user_id: string } }).secret
    // Not a system realm: a system realm's value is never served (test/secrets/system-realms.test.ts).
    assert.equal(secret.user_id, adminId, 'user_id honoured: the bootstrap key has secrets/write/internal')
    const at = (cmd: string) => cmd.replace('secrets/01H...', `secrets/${secret.id}`)

    const got = await curl(at(endpoint('GET', '/v1/secrets/{name}').curl), env)
    assert.equal(got.status, 200, JSON.stringify(got.body))
    const listed = await curl(endpoint('GET', '/v1/secrets').curl, env)
    assert.equal(listed.status, 200, JSON.stringify(listed.body))

    const rotate = fill(at(endpoint('POST', '/v1/secrets/{name}/rotate').curl), {
      realm: 'integrations',
      new_value: 'sk-curl-rotated',
    })
    const rotated = await curl(rotate, env)
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body))
    const validate = fill(at(endpoint('POST', '/v1/secrets/{name}/validate').curl), {
      realm: 'integrations',
    })
    const validated = await curl(validate, env)
    assert.deepEqual(validated.body, { valid: true, error: '' })
    const value = fill(at(endpoint('POST', '/v1/secrets/{name}/value').curl), {
      realm: 'integrations',
      user_id: adminId,
    })
    const read = await curl(value, env)
    assert.equal(read.status, 200, JSON.stringify(read.body))
    assert.equal((read.body as { value: string }).value, 'sk-curl-rotated')

    const deleted = await curl(at(endpoint('DELETE', '/v1/secrets/{name}').curl), env)
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body))
    assert.deepEqual(deleted.body, { success: true })
  })

  it('GET /.well-known/jwks.json', async () => {
    const res = await curl(endpoint('GET', '/.well-known/jwks.json').curl, envFor(''))
    assert.equal(res.status, 200)
    assert.ok((res.body as { keys: unknown[] }).keys.length >= 1)
  })

  it('POST /v1/auth/logout, last: it ends the session', async () => {
    const session = (await loginThroughDevIdp(stack.controlPlaneUrl, 'curl-user@example.com')).sessionToken
    const res = await curl(endpoint('POST', '/v1/auth/logout').curl, envFor(promptKey, session))
    assert.equal(res.status, 200, JSON.stringify(res.body))
    const me = await new Client({ baseUrl: stack.controlPlaneUrl, apiKey: session }).me.get().catch((e) => e)
    assert.equal(me.code, 'unauthenticated')
  })
})
