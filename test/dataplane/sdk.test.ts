import assert from 'node:assert/strict'
import { type IncomingHttpHeaders, request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import {
  type Caller,
  chat,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
} from '../support/inference.ts'
import { type ReceivedRequest, WORDS } from '../support/upstream.ts'

const OPENAI_PROJECT_KEY = 'sk-proj-openai-0000-alice'
const ANTHROPIC_PROJECT_KEY = 'sk-ant-project-0000-alice'
const SLOW = { 'x-upstream-behaviour': 'slow', 'x-upstream-interval-ms': '150' }

/** The upstream saw the provider key, and nothing of the caller's credential anywhere. */
function assertOnlyProviderKey(seen: ReceivedRequest, caller: Caller, header: string, value: string): void {
  assert.equal(seen.headers[header], value)
  const jwt = caller.apiKey.replace(/^ak-/, '')
  const everything = JSON.stringify(seen.headers) + seen.body
  assert.ok(!everything.includes(jwt), 'the caller’s token must never reach the upstream')
  assert.ok(!everything.includes(jwt.split('.')[2]!), 'not even its signature')
  assert.equal(seen.headers.cookie, undefined)
}

/** Arrival times of a stream's chunks must follow the upstream's sending, not come at the end. */
function assertStreamedAsSent(arrivals: number[], seen: ReceivedRequest): void {
  const lastSent = seen.sentAt.at(-1)!
  assert.ok(seen.sentAt.length >= WORDS.length + 2, `upstream sent ${seen.sentAt.length} events`)
  assert.ok(arrivals.length >= WORDS.length, `client received ${arrivals.length} chunks`)
  // Paced 150 ms apart upstream: the first chunk is in hand long before the last one is sent.
  assert.ok(
    arrivals[0]! < lastSent - 500,
    `first chunk at ${arrivals[0]}, last sent at ${lastSent}: the stream was buffered`,
  )
  assert.ok(arrivals.at(-1)! - arrivals[0]! >= 500, 'chunks arrived spread out, as sent')
}

describe('the official SDKs through the dataplane, with the project’s BYOK keys', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    world = await startInferenceWorld()
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project openai', OPENAI_PROJECT_KEY)
    await alice.client.aikeys.register('-', '-', 'anthropic', 'project anthropic', ANTHROPIC_PROJECT_KEY)
  })
  after(() => world?.stop())

  const openai = (baseURL = `${world.dp.url}/openai/v1`, headers: Record<string, string> = {}) =>
    new OpenAI({ apiKey: alice.apiKey, baseURL, defaultHeaders: headers, maxRetries: 0 })
  const anthropic = (headers: Record<string, string> = {}) =>
    new Anthropic({
      apiKey: alice.apiKey,
      baseURL: `${world.dp.url}/anthropic`,
      defaultHeaders: headers,
      maxRetries: 0,
    })

  it('openai chat completions: the upstream gets the project key, never the caller’s token', async () => {
    const before = world.upstream.requests.length
    const completion = await openai().chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'hello' }],
    })
    assert.equal(completion.choices[0]!.message.content, WORDS.join(''))
    const seen = world.upstream.requests[before]!
    assert.equal(seen.path, '/v1/chat/completions')
    assertOnlyProviderKey(seen, alice, 'authorization', `Bearer ${OPENAI_PROJECT_KEY}`)
    assert.equal(JSON.parse(seen.body).messages[0].content, 'hello')
  })

  it('openai streaming: chunks arrive as the upstream sends them', async () => {
    const before = world.upstream.requests.length
    const stream = await openai(undefined, SLOW).chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    })
    const arrivals: number[] = []
    let text = ''
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta?.content
      if (delta) {
        arrivals.push(Date.now())
        text += delta
      }
    }
    assert.equal(text, WORDS.join(''))
    const seen = world.upstream.requests[before]!
    assertOnlyProviderKey(seen, alice, 'authorization', `Bearer ${OPENAI_PROJECT_KEY}`)
    assertStreamedAsSent(arrivals, seen)
  })

  it('OpenAI-style /v1/* goes to openai too', async () => {
    const completion = await openai(`${world.dp.url}/v1`).chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'via /v1' }],
    })
    assert.equal(completion.choices[0]!.message.content, WORDS.join(''))
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, `Bearer ${OPENAI_PROJECT_KEY}`)
  })

  it('anthropic messages: x-api-key carries the project key', async () => {
    const before = world.upstream.requests.length
    const message = await anthropic().messages.create({
      model: 'claude-test',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hello' }],
    })
    const block = message.content[0]!
    assert.equal(block.type === 'text' ? block.text : '', WORDS.join(''))
    const seen = world.upstream.requests[before]!
    assert.equal(seen.path, '/v1/messages')
    assertOnlyProviderKey(seen, alice, 'x-api-key', ANTHROPIC_PROJECT_KEY)
    assert.equal(seen.headers.authorization, undefined)
    assert.ok(seen.headers['anthropic-version'], 'the SDK’s anthropic-version passes through')
  })

  it('anthropic streaming: events arrive as the upstream sends them', async () => {
    const before = world.upstream.requests.length
    const stream = await anthropic(SLOW).messages.create({
      model: 'claude-test',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
    })
    const arrivals: number[] = []
    let text = ''
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') {
        arrivals.push(Date.now())
        text += event.delta.text
      }
    }
    assert.equal(text, WORDS.join(''))
    const seen = world.upstream.requests[before]!
    assertOnlyProviderKey(seen, alice, 'x-api-key', ANTHROPIC_PROJECT_KEY)
    assertStreamedAsSent(arrivals, seen)
  })

  it('accepts the key with or without ak- prefixes, as Bearer or x-api-key', async () => {
    const jwt = alice.apiKey.replace(/^ak-/, '')
    const variants: Array<Record<string, string>> = [
      { authorization: `Bearer ${jwt}` },
      { authorization: `Bearer ak-${alice.apiKey}` },
      { authorization: `bearer ${alice.apiKey}` },
      { authorization: '', 'x-api-key': jwt },
      { authorization: '', 'x-api-key': alice.apiKey },
    ]
    for (const headers of variants) {
      const res = await chat(world.dp.url, '', { headers })
      assert.equal(res.status, 200, `${JSON.stringify(Object.keys(headers))}: ${res.text}`)
    }
  })

  it('drops cookies and hop-by-hop headers, passes traceparent and other headers through', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    // node:http, since fetch refuses to send a Connection header.
    const res = await new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
      const req = request(`${world.dp.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${alice.apiKey}`,
          'content-type': 'application/json',
          cookie: 'agentrouter_session=secret-cookie',
          traceparent,
          'x-custom': 'kept',
          connection: 'keep-alive, x-hop',
          'x-hop': 'dropped',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
        },
      })
      req.on('response', (r) => {
        r.resume()
        r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers }))
      })
      req.on('error', reject)
      req.end(JSON.stringify({ model: 'gpt-test', messages: [] }))
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-upstream-marker'], 'yes', 'upstream response headers come back')
    const seen = world.upstream.requests.at(-1)!
    assert.equal(seen.headers.traceparent, traceparent)
    assert.equal(seen.headers['x-custom'], 'kept')
    assert.equal(seen.headers.cookie, undefined)
    assert.equal(seen.headers['x-hop'], undefined)
    assert.equal(seen.headers['proxy-authorization'], undefined)
  })

  it('a provider without a key is failed_precondition naming provider and project', async () => {
    const bob = await world.caller('bob-no-keys@example.com')
    const res = await chat(world.dp.url, bob.apiKey)
    assert.equal(res.status, 412)
    const error = openaiErrorOf(res.body)
    assert.equal(error.code, 'failed_precondition')
    assert.match(error.message, /tare api byok add --provider openai/)
    assert.ok(error.message.includes(bob.projectId), error.message)
  })
})

describe('user-scoped provider keys', () => {
  let world: InferenceWorld
  let owner: Caller
  let member: Caller

  before(async () => {
    // Without auto-provisioning, the shared project is each caller's first and so default project,
    // and the API keys issued afterwards carry it.
    world = await startInferenceWorld({ cpEnv: { AGENTROUTER_AUTO_PROVISION: 'false' } })
    const [o, m] = await Promise.all([
      world.cp.login('owner@example.com'),
      world.cp.login('member@example.com'),
    ])
    const { customer } = await world.cp.admin.admin.createCustomer('Shared Inc')
    const { project } = await world.cp.admin.admin.createProject(customer.id, 'shared')
    await world.cp.admin.admin.setMember(customer.id, project.id, o.identityId, 'owner')
    await world.cp.admin.admin.setMember(customer.id, project.id, m.identityId, 'member')
    const issue = async (login: typeof o, email: string): Promise<Caller> => {
      const { key, secret } = await login.client.me.issueKey('inference')
      return {
        ...login,
        email,
        customerId: customer.id,
        projectId: project.id,
        apiKey: secret,
        apiKeyId: key.id,
      }
    }
    owner = await issue(o, 'owner@example.com')
    member = await issue(m, 'member@example.com')
    await owner.client.aikeys.register(customer.id, project.id, 'openai', 'project', 'sk-shared-project')
    await member.client.aikeys.register(customer.id, project.id, 'openai', 'mine', 'sk-member-own', true)
  })
  after(() => world?.stop())

  it('serves the member’s own key to the member, and the project key to everyone else', async () => {
    const viaMember = await chat(world.dp.url, member.apiKey)
    assert.equal(viaMember.status, 200, viaMember.text)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-member-own')
    const viaOwner = await chat(world.dp.url, owner.apiKey)
    assert.equal(viaOwner.status, 200, viaOwner.text)
    assert.equal(world.upstream.requests.at(-1)!.headers.authorization, 'Bearer sk-shared-project')
  })
})
