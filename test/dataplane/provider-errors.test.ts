/**
 * Every error the dataplane produces itself, as the official SDKs read it: on the OpenAI routes
 * `{"error":{"message","type","param","code"}}` (the SDK's `err.type`, `err.code`, `err.param`),
 * on the Anthropic route `{"type":"error","error":{"type","message"}}` (`err.error.error.type`),
 * with the contract's status, and a message that is ours and says what to do — never "(no body)".
 * The dataplane's own endpoints keep the contract's shape.
 */
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'
import { startUpstream, type TestUpstream, WORDS } from '../support/upstream.ts'

const OPENAI_KEY = 'sk-proj-provider-errors-openai'
const ANTHROPIC_KEY = 'sk-ant-provider-errors-anthropic'
const BODY_LIMIT = 8192
const STALL = { 'x-upstream-behaviour': 'stall' }
const CHAT = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'hi' }] }
const MESSAGE = { model: 'claude-test', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] }

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  return assert.fail('expected the SDK to throw')
}

interface OpenAIExpectation {
  status: number
  code: string
  type: string
  param?: string | null
  message: RegExp
}

/** The OpenAI SDK's error, checked field by field; returned for more checks. */
async function openaiRefusal(
  p: Promise<unknown>,
  want: OpenAIExpectation,
): Promise<InstanceType<typeof OpenAI.APIError>> {
  const err = await rejection(p)
  assert.ok(err instanceof OpenAI.APIError, `an APIError, not ${String(err)}`)
  assert.equal(err.status, want.status, err.message)
  assert.equal(err.code, want.code, err.message)
  assert.equal(err.type, want.type, err.message)
  assert.equal(err.param, want.param ?? null, err.message)
  assert.deepEqual(Object.keys(err.error as object), ['message', 'type', 'param', 'code'])
  assert.match(err.message, want.message)
  assert.ok(!err.message.includes('(no body)'), err.message)
  return err
}

/** The Anthropic SDK's error: the body's `error.type`, and our message in `message`. */
async function anthropicRefusal(
  p: Promise<unknown>,
  want: { status: number; type: string; message: RegExp },
): Promise<InstanceType<typeof Anthropic.APIError>> {
  const err = await rejection(p)
  assert.ok(err instanceof Anthropic.APIError, `an APIError, not ${String(err)}`)
  assert.equal(err.status, want.status, err.message)
  const body = err.error as { type: string; error: { type: string; message: string } }
  assert.equal(body.type, 'error')
  assert.deepEqual(Object.keys(body.error), ['type', 'message'])
  assert.equal(body.error.type, want.type, err.message)
  assert.match(body.error.message, want.message)
  assert.ok(err.message.includes(JSON.stringify(body.error.message).slice(1, -1)), err.message)
  assert.ok(!err.message.includes('(no body)'), err.message)
  return err
}

describe('errors the dataplane produces, read by the official SDKs', () => {
  let cp: TestControlPlane
  let upstream: TestUpstream
  /** The dataplane most tests use. */
  let dp: TestDataplane
  /** Its upstreams are a closed port. */
  let unreachable: TestDataplane
  /** Started with the control plane unreachable and nothing persisted: never synced. */
  let blind: TestDataplane
  let customerId: string
  /** Alice owns project A, which has keys for both providers. */
  let alice: string
  /** Bob is a member of project B, which has no provider key. */
  let bob: string
  /** Carol's key is for project A, which she has left. */
  let carol: string

  const openai = (apiKey: string, at: TestDataplane = dp, prefix = '/openai/v1', maxRetries = 0) =>
    new OpenAI({ apiKey, baseURL: `${at.url}${prefix}`, maxRetries })
  const anthropic = (apiKey: string, at: TestDataplane = dp) =>
    new Anthropic({ apiKey, baseURL: `${at.url}/anthropic`, maxRetries: 0 })
  const chat = (client: OpenAI, headers: Record<string, string> = {}) =>
    client.chat.completions.create(CHAT, { headers })
  const message = (client: Anthropic, headers: Record<string, string> = {}) =>
    client.messages.create(MESSAGE, { headers })

  /** Logs in, joins `projectId` with `role`, and gets an API key (its project is that one). */
  const member = async (email: string, projectId: string, role: 'owner' | 'member') => {
    const login = await cp.login(email)
    await cp.admin.admin.setMember(customerId, projectId, login.identityId, role)
    const { key, secret } = await login.client.me.issueKey(`${email} inference`)
    return { login, key, secret }
  }

  before(async () => {
    // No personal projects: a user's default project (its keys' project) is the one it joins.
    ;[cp, upstream] = await Promise.all([
      startControlPlane({ AGENTROUTER_AUTO_PROVISION: 'false' }),
      startUpstream(),
    ])
    const closed = `http://127.0.0.1:${await closedPort()}`
    ;[dp, unreachable, blind] = await Promise.all([
      startDataplane({
        controlPlaneUrl: cp.url,
        dataplaneKey: cp.dataplaneKey,
        upstream: upstream.url,
        env: {
          AGENTROUTER_DP_HEADERS_TIMEOUT: '1s',
          AGENTROUTER_DP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
          AGENTROUTER_DP_MAX_BUFFERED_BYTES: String(BODY_LIMIT),
          AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: '1s',
          AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: '3s',
        },
      }),
      startDataplane({ controlPlaneUrl: cp.url, dataplaneKey: cp.dataplaneKey, upstream: closed }),
      startDataplane({
        controlPlaneUrl: `http://127.0.0.1:${await closedPort()}`,
        dataplaneKey: cp.dataplaneKey,
        upstream: upstream.url,
        waitReady: false,
      }),
    ])
    customerId = (await cp.admin.admin.createCustomer('acme')).customer.id
    const projectA = (await cp.admin.admin.createProject(customerId, 'a')).project.id
    const projectB = (await cp.admin.admin.createProject(customerId, 'b')).project.id
    await cp.admin.aikeys.register(customerId, projectA, 'openai', 'project openai', OPENAI_KEY)
    await cp.admin.aikeys.register(customerId, projectA, 'anthropic', 'project anthropic', ANTHROPIC_KEY)
    alice = (await member('alice@example.com', projectA, 'owner')).secret
    bob = (await member('bob@example.com', projectB, 'member')).secret
    const c = await member('carol@example.com', projectA, 'member')
    carol = c.secret
    await cp.admin.admin.removeMember(customerId, projectA, c.login.identityId)
  })
  after(async () => {
    await Promise.all([dp?.stop(), unreachable?.stop(), blind?.stop()])
    await cp?.stop()
    await upstream?.close()
  })

  it('the legitimate path works through both SDKs', async () => {
    const completion = await chat(openai(alice))
    assert.equal(completion.choices[0]!.message.content, WORDS.join(''))
    const msg = await message(anthropic(alice))
    assert.equal(msg.role, 'assistant')
  })

  it('a bad credential: 401 authentication_error, saying how to get a key', async () => {
    const before = upstream.requests.length
    const want = {
      status: 401,
      code: 'unauthenticated',
      type: 'authentication_error',
      message: /invalid, expired or revoked.*tare api keys create/,
    }
    const err = await openaiRefusal(chat(openai('ak-not.a.token')), want)
    assert.ok(err instanceof OpenAI.AuthenticationError)
    // `/v1/*` is the OpenAI dialect too.
    await openaiRefusal(chat(openai('ak-not.a.token', dp, '/v1')), want)
    await anthropicRefusal(message(anthropic('ak-not.a.token')), {
      status: 401,
      type: 'authentication_error',
      message: /tare api keys create/,
    })
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream')
  })

  it('a revoked credential: 401 authentication_error', async () => {
    const login = await cp.login('alice@example.com')
    const { key, secret } = await login.client.me.issueKey('to revoke')
    await chat(openai(secret))
    await login.client.me.revokeKey(key.id)
    await within(
      2_000,
      async () => (await fetchStatus(dp, secret)) === 401,
      'the revoked key refused at the dataplane',
    )
    await openaiRefusal(chat(openai(secret)), {
      status: 401,
      code: 'unauthenticated',
      type: 'authentication_error',
      message: /revoked.*tare api keys create/,
    })
    await anthropicRefusal(message(anthropic(secret)), {
      status: 401,
      type: 'authentication_error',
      message: /revoked/,
    })
  })

  it('the wrong key type (a dataplane key): 403 permission_error', async () => {
    await openaiRefusal(chat(openai(cp.dataplaneKey)), {
      status: 403,
      code: 'permission_denied',
      type: 'permission_error',
      message: /may not send inference traffic.*tare api keys create/,
    })
    await anthropicRefusal(message(anthropic(cp.dataplaneKey)), {
      status: 403,
      type: 'permission_error',
      message: /may not send inference traffic/,
    })
  })

  it('no provider key for the project: 412 invalid_request_error naming `tare api byok add`', async () => {
    const err = await openaiRefusal(chat(openai(bob)), {
      status: 412,
      code: 'failed_precondition',
      type: 'invalid_request_error',
      param: 'provider',
      message: /no openai key .*tare api byok add --provider openai --project proj_/,
    })
    assert.ok(!err.message.includes('/v1/customers'), 'a command, not a raw path')
    await anthropicRefusal(message(anthropic(bob)), {
      status: 412,
      type: 'invalid_request_error',
      message: /tare api byok add --provider anthropic/,
    })
  })

  it('a key whose project the caller left: 403 permission_error', async () => {
    await openaiRefusal(chat(openai(carol)), {
      status: 403,
      code: 'permission_denied',
      type: 'permission_error',
      message: /not a member of project proj_.*ask a project owner/,
    })
    await anthropicRefusal(message(anthropic(carol)), {
      status: 403,
      type: 'permission_error',
      message: /not a member/,
    })
    assert.ok(!JSON.stringify(upstream.requests.slice(-2)).includes('carol'))
  })

  it('a refused path: 403 outside the API, 400 for an escaped separator, naming the path', async () => {
    const before = upstream.requests.length
    await openaiRefusal(openai(alice).get('/organization/users'), {
      status: 403,
      code: 'permission_denied',
      type: 'permission_error',
      param: 'path',
      message: /\/openai\/v1\/organization\/users: not part of the openai inference API/,
    })
    await openaiRefusal(openai(alice).get('/files/a%2Fb'), {
      status: 400,
      code: 'invalid_argument',
      type: 'invalid_request_error',
      param: 'path',
      message: /a%2Fb: .*not forwarded/,
    })
    await anthropicRefusal(anthropic(alice).get('/v1/organizations/me'), {
      status: 403,
      type: 'permission_error',
      message: /not part of the anthropic inference API/,
    })
    assert.equal(upstream.requests.length, before, 'nothing reached the upstream')
  })

  it('a body over the limit: 400 invalid_request_error, param body', async () => {
    const big = { ...CHAT, messages: [{ role: 'user' as const, content: 'x'.repeat(BODY_LIMIT + 100) }] }
    await openaiRefusal(openai(alice).chat.completions.create(big), {
      status: 400,
      code: 'invalid_argument',
      type: 'invalid_request_error',
      param: 'body',
      message: new RegExp(`larger than ${BODY_LIMIT} bytes.*send a smaller request`),
    })
    const bigMessage = { ...MESSAGE, messages: [{ role: 'user' as const, content: 'x'.repeat(BODY_LIMIT) }] }
    await anthropicRefusal(anthropic(alice).messages.create(bigMessage), {
      status: 400,
      type: 'invalid_request_error',
      message: /larger than/,
    })
  })

  it('buffered bytes exhausted: 429 rate_limit_error with Retry-After, which the SDK honours when it retries', async () => {
    let hold = await holdBudget(dp, alice)
    const err = await openaiRefusal(chat(openai(alice)), {
      status: 429,
      code: 'resource_exhausted',
      type: 'rate_limit_error',
      param: 'body',
      message: /buffering all it may.*Retry-After/,
    })
    assert.equal(err.headers?.get('retry-after'), '1')
    await anthropicRefusal(message(anthropic(alice)), {
      status: 429,
      type: 'rate_limit_error',
      message: /buffering all it may/,
    })
    hold.destroy()
    await within(2_000, async () => (await dp.metric('agentrouter_dp_buffered_request_bytes')) === 0)

    // With one retry allowed, the SDK waits the second we asked for, and the retry is served.
    hold = await holdBudget(dp, alice)
    const started = Date.now()
    setTimeout(() => hold.destroy(), 300)
    const completion = await chat(openai(alice, dp, '/openai/v1', 1))
    assert.equal(completion.choices[0]!.message.content, WORDS.join(''))
    assert.ok(Date.now() - started >= 900, `retried after ${Date.now() - started} ms, not after Retry-After`)
  })

  it('an unreachable upstream: 503 server_error (api_error for Anthropic)', async () => {
    await openaiRefusal(chat(openai(alice, unreachable)), {
      status: 503,
      code: 'unavailable',
      type: 'server_error',
      message: /the openai upstream could not be reached.*retry/,
    })
    await anthropicRefusal(message(anthropic(alice, unreachable)), {
      status: 503,
      type: 'api_error',
      message: /the anthropic upstream could not be reached/,
    })
  })

  it('an upstream that does not answer in time: 504 server_error (timeout_error for Anthropic)', async () => {
    await openaiRefusal(chat(openai(alice), STALL), {
      status: 504,
      code: 'deadline_exceeded',
      type: 'server_error',
      message: /the openai upstream did not answer in time/,
    })
    await anthropicRefusal(message(anthropic(alice), STALL), {
      status: 504,
      type: 'timeout_error',
      message: /the anthropic upstream did not answer in time/,
    })
  })

  it('a dataplane that has not synced with the control plane: 503, retry shortly', async () => {
    await openaiRefusal(chat(openai(alice, blind)), {
      status: 503,
      code: 'unavailable',
      type: 'server_error',
      message: /signing keys yet; retry shortly/,
    })
    await anthropicRefusal(message(anthropic(alice, blind)), {
      status: 503,
      type: 'api_error',
      message: /signing keys yet/,
    })
  })

  it('a request body too slow to arrive: 408 in the route’s dialect', async () => {
    const socket = connect(Number(new URL(dp.url).port), '127.0.0.1')
    socket.write(
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\n' +
        `authorization: Bearer ${alice}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    )
    const raw = await readAll(socket)
    assert.match(raw, /^HTTP\/1.1 408 /)
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))
    assert.equal(body.error.type, 'invalid_request_error')
    assert.equal(body.error.code, 'deadline_exceeded')
    assert.match(body.error.message, /not received in time/)
  })

  it('the dataplane’s own endpoints keep the contract’s shape', async () => {
    const res = await fetch(`${dp.url}/nowhere`)
    assert.equal(res.status, 404)
    const body = (await res.json()) as Record<string, unknown>
    assert.equal(body.code, 'not_found')
    assert.deepEqual(body.details, [])
    const ready = await fetch(`${blind.url}/readyz`)
    assert.equal(ready.status, 503)
  })
})

describe('an expired credential, read by the official SDKs', () => {
  let world: InferenceWorld

  before(async () => {
    // Sessions live 2 s and the dataplane allows no clock leeway. (A short AGENTROUTER_API_KEY_TTL
    // would expire the bootstrap dataplane key too, and the dataplane with it.)
    world = await startInferenceWorld({
      cpEnv: { AGENTROUTER_SESSION_TTL: '2s' },
      dpEnv: { AGENTROUTER_DP_CLOCK_LEEWAY: '0s' },
    })
  })
  after(() => world?.stop())

  it('401 authentication_error once the credential has expired, saying how to get a key', async () => {
    const caller = await world.caller('erin@example.com')
    await caller.client.aikeys.register('-', '-', 'openai', 'project', OPENAI_KEY)
    const expiring = caller.sessionToken
    const client = new OpenAI({ apiKey: expiring, baseURL: `${world.dp.url}/openai/v1`, maxRetries: 0 })
    assert.equal((await client.chat.completions.create(CHAT)).choices[0]!.message.content, WORDS.join(''))
    await within(5_000, async () => (await fetchStatus(world.dp, expiring)) === 401, 'expired')
    await openaiRefusal(client.chat.completions.create(CHAT), {
      status: 401,
      code: 'unauthenticated',
      type: 'authentication_error',
      message: /expired.*tare api keys create/,
    })
    await anthropicRefusal(
      new Anthropic({
        apiKey: expiring,
        baseURL: `${world.dp.url}/anthropic`,
        maxRetries: 0,
      }).messages.create(MESSAGE),
      { status: 401, type: 'authentication_error', message: /expired/ },
    )
  })
})

async function fetchStatus(dp: TestDataplane, token: string): Promise<number> {
  const res = await fetch(`${dp.url}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(CHAT),
  })
  await res.arrayBuffer()
  return res.status
}

/** A request that declares a body filling the dataplane's whole buffer budget, and sends one byte. */
async function holdBudget(dp: TestDataplane, token: string): Promise<Socket> {
  const socket = connect(Number(new URL(dp.url).port), '127.0.0.1')
  socket.on('error', () => {})
  socket.write(
    'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\n' +
      `authorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${BODY_LIMIT}\r\n\r\n{`,
  )
  await within(
    3_000,
    async () => (await dp.metric('agentrouter_dp_buffered_request_bytes')) === BODY_LIMIT,
    'the budget held',
  )
  return socket
}

function readAll(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
    socket.on('error', reject)
  })
}
