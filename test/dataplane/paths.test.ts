import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { TestDataplane } from '../support/dataplane.ts'
import {
  anthropicErrorOf,
  type Caller,
  type InferenceWorld,
  openaiErrorOf,
  startInferenceWorld,
} from '../support/inference.ts'
import { type RawResult, rawRequest } from '../support/raw-http.ts'

/** The routes that reach each provider, as the client spells them. */
const OPENAI_ROUTES = ['/openai/v1/', '/v1/']
const ANTHROPIC_ROUTES = ['/anthropic/v1/']

/**
 * Every spelling of a way out of the API prefix, after an allowed path (the `{api}` stand-in is
 * replaced by one: `chat/completions` or `messages`).
 */
const TRAVERSALS = [
  '{api}/../../organization/users',
  '{api}/..%2f..%2forganization/users',
  '{api}/..%2F..%2Forganization',
  '{api}%2f..%2f..%2forganization',
  '{api}/..\\..\\organization',
  '{api}\\..\\..\\organization',
  '{api}/..%5c..%5corganization',
  '{api}/..%5C..%5Corganization',
  '{api}/%2e%2e/%2e%2e/organization',
  '{api}/%2E%2E/%2E%2E/organization',
  '{api}/.%2e/.%2e/organization',
  '{api}/%2e./%2e./organization',
  '{api}/%252e%252e%252forganization',
  '{api}/..%252f..%252forganization',
  '{api}/%25%32%65%25%32%65/organization',
  '{api}/%c0%ae%c0%ae/organization',
  '{api}/..;/..;/organization',
  '{api}/./../organization',
  '{api}/..',
  '{api}/%2e',
  '{api}/%2',
  '{api}/x%00',
  './{api}',
  '../{api}',
]

const OPENAI_ALLOWED = [
  ['POST', 'chat/completions'],
  ['POST', 'completions'],
  ['POST', 'responses'],
  ['GET', 'responses/resp_123/input_items?limit=2'],
  ['POST', 'embeddings'],
  ['GET', 'models'],
  ['GET', 'models/gpt-4.1'],
  ['GET', 'models/ft%3Agpt-4o-mini%3Aacme%3Asuffix%3Aabc123'],
  ['POST', 'moderations'],
  ['POST', 'images/generations'],
  ['POST', 'audio/speech'],
  ['GET', 'files?purpose=batch'],
  ['GET', 'files/file-abc123/content'],
  ['POST', 'batches'],
  ['POST', 'uploads/upload_abc/parts'],
  ['GET', 'vector_stores/vs_abc/files'],
  ['POST', 'assistants'],
  ['POST', 'threads/thread_abc/runs'],
  ['POST', 'realtime/sessions'],
] as const

const ANTHROPIC_ALLOWED = [
  ['POST', 'messages'],
  ['POST', 'messages/count_tokens'],
  ['POST', 'messages/batches'],
  ['GET', 'messages/batches/msgbatch_abc/results'],
  ['GET', 'models'],
  ['GET', 'models/claude-sonnet-4-5'],
  ['GET', 'files/file_abc/content'],
] as const

/** The provider's organisation and admin APIs, and paths that only look like allowed ones. */
const OPENAI_REFUSED = [
  'organization/users',
  'organization/admin_api_keys',
  'organization/projects/proj_abc/api_keys',
  'organization/costs?start_time=0',
  'admin/api_keys',
  'fine_tuning/jobs',
  'evals',
  'messages',
  '',
  'chat',
  'chat/completionsx',
  'filesystem',
  'Files',
  '%66iles',
  '/files',
]
const ANTHROPIC_REFUSED = [
  'organizations/users',
  'organizations/api_keys',
  'organizations/workspaces',
  'organizations/usage_report/messages',
  'complete',
  'chat/completions',
  'messagesx',
]

const BASE = '/base'
const EXTRA = 'openai:fine_tuning/jobs, anthropic:/v1/organizations/usage_report/messages'

describe('paths at the dataplane', () => {
  let world: InferenceWorld
  let alice: Caller
  /** Upstream base URLs with a path (`/base`), and extra paths allowed by the operator. */
  let based: TestDataplane

  before(async () => {
    world = await startInferenceWorld()
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-paths-openai-0123456789')
    await alice.client.aikeys.register('-', '-', 'anthropic', 'project', 'sk-ant-paths-0123456789')
    based = await world.dataplane({
      env: {
        AGENTROUTER_UPSTREAM_OPENAI: `${world.upstream.url}${BASE}`,
        AGENTROUTER_UPSTREAM_ANTHROPIC: `${world.upstream.url}${BASE}/`,
        AGENTROUTER_DP_EXTRA_PATHS: EXTRA,
      },
    })
  })
  after(() => world?.stop())

  const send = (dp: TestDataplane, method: string, path: string): Promise<RawResult> =>
    rawRequest(
      dp.url,
      method,
      path,
      { authorization: `Bearer ${alice.apiKey}`, 'content-type': 'application/json' },
      method === 'POST' ? '{"model":"m"}' : undefined,
    )

  /** Sends each request and asserts it was refused with `code`, and that the upstream saw none. */
  async function assertRefused(dp: TestDataplane, requests: string[], code: string, status: number) {
    const seen = world.upstream.requests.length
    for (const path of requests) {
      const res = await send(dp, 'POST', path)
      assert.equal(res.status, status, `${path}: ${res.body}`)
      // In the route's dialect: the code and the field on OpenAI's routes, the type on Anthropic's.
      let message: string
      if (path.startsWith('/anthropic/')) {
        const error = anthropicErrorOf(res.json)
        assert.equal(error.type, status === 403 ? 'permission_error' : 'invalid_request_error', path)
        message = error.message
      } else {
        const error = openaiErrorOf(res.json)
        assert.equal(error.code, code, path)
        assert.equal(error.param, 'path', path)
        message = error.message
      }
      assert.ok(message.includes(path.split('?')[0]!), `${path}: ${message}`)
    }
    assert.equal(world.upstream.requests.length, seen, 'the upstream received none of them')
  }

  it('refuses every spelling of a way out of the API prefix, and forwards none', async () => {
    const paths = [
      ...OPENAI_ROUTES.flatMap((r) => TRAVERSALS.map((t) => r + t.replace('{api}', 'chat/completions'))),
      ...ANTHROPIC_ROUTES.flatMap((r) => TRAVERSALS.map((t) => r + t.replace('{api}', 'messages'))),
      // From an allowed files path, and from an extra path the operator allowed.
      '/v1/files/file-abc/..%2f..%2f..%2forganization',
      '/v1/fine_tuning/jobs/..%2F..%2Forganization',
    ]
    for (const dp of [world.dp, based]) await assertRefused(dp, paths, 'invalid_argument', 400)
  })

  it('refuses the organisation and admin APIs (and anything else) with permission_denied, forwarding none', async () => {
    const paths = [
      ...OPENAI_ROUTES.flatMap((r) => OPENAI_REFUSED.map((p) => r + p)),
      ...ANTHROPIC_ROUTES.flatMap((r) => ANTHROPIC_REFUSED.map((p) => r + p)),
    ]
    await assertRefused(world.dp, paths, 'permission_denied', 403)
    // The operator's extras are not on by default.
    await assertRefused(
      world.dp,
      ['/v1/fine_tuning/jobs', '/anthropic/v1/organizations/usage_report/messages'],
      'permission_denied',
      403,
    )
    const res = await send(world.dp, 'GET', '/openai/v1/organization/users')
    const error = openaiErrorOf(res.json)
    assert.match(error.message, /\/openai\/v1\/organization\/users/)
    assert.match(error.message, /chat\/completions/, 'it names what is forwarded')
  })

  it('is refused before the credential is looked at: an unauthenticated traversal forwards nothing either', async () => {
    const seen = world.upstream.requests.length
    const res = await rawRequest(world.dp.url, 'GET', '/v1/models/..%2forganization/users')
    assert.equal(res.status, 400)
    const denied = await rawRequest(world.dp.url, 'GET', '/v1/organization/users')
    assert.equal(denied.status, 403)
    assert.equal(world.upstream.requests.length, seen)
  })

  it('forwards every prefix of the inference API, the path exactly as sent', async () => {
    const cases = [
      ...OPENAI_ROUTES.flatMap((r) => OPENAI_ALLOWED.map(([m, p]) => [m, r + p, `/v1/${p}`] as const)),
      ...ANTHROPIC_ROUTES.flatMap((r) => ANTHROPIC_ALLOWED.map(([m, p]) => [m, r + p, `/v1/${p}`] as const)),
    ]
    for (const [dp, base] of [
      [world.dp, ''],
      [based, BASE],
    ] as const) {
      for (const [method, path, upstreamPath] of cases) {
        const seen = world.upstream.requests.length
        const res = await send(dp, method, path)
        assert.notEqual(res.status, 400, `${path}: ${res.body}`)
        assert.notEqual(res.status, 403, `${path}: ${res.body}`)
        assert.equal(world.upstream.requests.length, seen + 1, `${path} reached the upstream once`)
        const got = world.upstream.requests.at(-1)!
        assert.equal(got.path, base + upstreamPath, path)
        assert.equal(got.method, method)
        const provider = path.startsWith('/anthropic/') ? 'x-api-key' : 'authorization'
        assert.ok(got.headers[provider], `${path}: the provider key was injected`)
      }
    }
  })

  it('forwards the prefixes the operator added, and nothing beside them', async () => {
    for (const [path, upstreamPath] of [
      ['/v1/fine_tuning/jobs', '/v1/fine_tuning/jobs'],
      [
        '/openai/v1/fine_tuning/jobs/ftjob-abc/events?limit=1',
        '/v1/fine_tuning/jobs/ftjob-abc/events?limit=1',
      ],
      ['/anthropic/v1/organizations/usage_report/messages', '/v1/organizations/usage_report/messages'],
    ]) {
      const seen = world.upstream.requests.length
      const res = await send(based, 'GET', path!)
      assert.notEqual(res.status, 403, `${path}: ${res.body}`)
      assert.equal(world.upstream.requests.length, seen + 1)
      assert.equal(world.upstream.requests.at(-1)!.path, BASE + upstreamPath)
    }
    await assertRefused(
      based,
      [
        '/v1/fine_tuning/checkpoints',
        '/v1/fine_tuning/jobsx',
        '/anthropic/v1/organizations/users',
        '/v1/organization/users',
      ],
      'permission_denied',
      403,
    )
  })

  it('still serves a chat completion end to end', async () => {
    const res = await send(world.dp, 'POST', '/v1/chat/completions')
    assert.equal(res.status, 200, res.body.toString())
    assert.equal(res.json.object, 'chat.completion')
  })

  it('nothing went unhandled', () => {
    for (const dp of [world.dp, based]) {
      assert.equal(dp.process.child.exitCode, null)
      assert.doesNotMatch(dp.process.output(), /unhandled|uncaught/i)
    }
  })
})
