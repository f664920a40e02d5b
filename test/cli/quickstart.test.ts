/**
 * The README's quick start, as a person would run it: `npm start` (control plane, development
 * IdP, dataplane), then what its banner says to run next, taken from the banner itself (its
 * `export` lines are the second terminal's environment): `tare api login` in a browser,
 * `tare api byok add`, `tare api keys create`, then streamed completions with the official
 * `openai` and `@anthropic-ai/sdk` SDKs at the `baseURL`s the banner printed. The upstream is a
 * local stand-in, so the test also sees which key reached it. The admin command the banner shows
 * works without displacing the login session.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import type { IssueMyKeyResponse, RegisterAiKeyResponse } from '../../shared/client/index.ts'
import { sleep } from '../support/http.ts'
import { tempDir } from '../support/process.ts'
import { startStack, type TestStack } from '../support/stack.ts'
import { type TareEnv, tare, tareJson, tareLogin } from '../support/tare.ts'
import { startUpstream, type TestUpstream, WORDS } from '../support/upstream.ts'

describe('quick start: npm start, tare, and the openai SDK through the dataplane', () => {
  let upstream: TestUpstream
  let stack: TestStack
  let me: TareEnv

  let banner: string
  /** What the banner says to export in the second terminal. */
  let exported: Record<string, string>

  before(async () => {
    upstream = await startUpstream()
    stack = await startStack({
      AGENTROUTER_UPSTREAM_OPENAI: upstream.url,
      AGENTROUTER_UPSTREAM_ANTHROPIC: upstream.url,
    })
    // The banner follows the dataplane's "listening" record.
    const deadline = Date.now() + 10_000
    while (!/Ctrl-C stops both/.test(stack.process.output()) && Date.now() < deadline) await sleep(20)
    banner = stack.process.output().slice(stack.process.output().indexOf('AgentRouter is running:'))
    exported = Object.fromEntries(
      [...banner.matchAll(/^\s*export (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
    )
    me = { configHome: tempDir('quickstart-'), extra: exported }
  })
  after(async () => {
    await stack?.stop()
    await upstream?.close()
  })

  it('prints what the next step needs, and nothing that would override the login session', () => {
    assert.deepEqual(exported, { AGENTROUTER_BASE_URL: stack.controlPlaneUrl }, banner)
    assert.match(banner, /^\s*npx tare api login$/m)
    assert.doesNotMatch(banner, /export AGENTROUTER_API_KEY/)
    assert.match(banner, /OpenAI SDK\s+baseURL \S+\/openai\/v1$/m)
    assert.match(banner, /Anthropic SDK\s+baseURL \S+\/anthropic$/m)
    assert.ok(!banner.includes(stack.adminKey), 'the admin key itself is never printed')
  })

  it('logs in, registers a provider key, issues an API key and streams a chat completion', async () => {
    const { result } = await tareLogin(me, 'dev@example.com')
    assert.equal(result.code, 0, result.stderr)

    const byok = await tareJson<RegisterAiKeyResponse>(
      ['api', 'byok', 'add', '--provider', 'openai', '--name', 'openai', '--secret', '-'],
      me,
      'sk-quickstart-provider-key\n',
    )
    assert.equal(byok.key.display_suffix, '-key')
    const { secret } = await tareJson<IssueMyKeyResponse>(
      ['api', 'keys', 'create', '--name', 'quickstart'],
      me,
    )

    const openaiBaseUrl = /OpenAI SDK\s+baseURL (\S+)$/m.exec(banner)?.[1]
    assert.equal(openaiBaseUrl, `${stack.dataplaneUrl}/openai/v1`)
    const openai = new OpenAI({ baseURL: openaiBaseUrl, apiKey: secret, maxRetries: 0 })
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    })
    let text = ''
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? ''
    assert.equal(text, WORDS.join(''))

    const received = upstream.requests.at(-1)!
    assert.equal(
      received.headers.authorization,
      'Bearer sk-quickstart-provider-key',
      'the BYOK key was injected',
    )
    assert.ok(
      !JSON.stringify(received.headers).includes(secret.slice(3)),
      'the AgentRouter key stayed behind',
    )

    // The Anthropic SDK at the printed baseURL (it appends /v1/messages itself).
    await tareJson(
      ['api', 'byok', 'add', '--provider', 'anthropic', '--name', 'anthropic', '--secret', '-'],
      me,
      'sk-ant-quickstart-provider-key\n',
    )
    const anthropicBaseUrl = /Anthropic SDK\s+baseURL (\S+)$/m.exec(banner)?.[1]
    const anthropic = new Anthropic({ baseURL: anthropicBaseUrl, apiKey: secret, maxRetries: 0 })
    const events = await anthropic.messages.create({
      model: 'claude-3-5-haiku-latest',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    })
    let said = ''
    for await (const event of events)
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') said += event.delta.text
    assert.equal(said, WORDS.join(''))
    assert.equal(upstream.requests.at(-1)!.path, '/v1/messages')
    assert.equal(upstream.requests.at(-1)!.headers['x-api-key'], 'sk-ant-quickstart-provider-key')
  })

  it("runs the banner's admin command with the bootstrap key, and the login session stays in effect", async () => {
    const adminKeyFile = /admin key file\s+(\S+)/.exec(banner)?.[1]
    assert.match(banner, new RegExp(`AGENTROUTER_API_KEY=\\$\\(cat ${adminKeyFile}\\) npx tare api admin`))
    const admin = await tare(['api', 'admin', 'dataplanes', 'list', '--json'], {
      ...me,
      extra: { ...exported, AGENTROUTER_API_KEY: readFileSync(adminKeyFile!, 'utf8').trim() },
    })
    assert.equal(admin.code, 0, admin.stderr)
    const after = await tareJson<{ identity: { email?: string } }>(['api', 'whoami'], me)
    assert.equal(after.identity.email, 'dev@example.com', 'still the logged-in user, not the admin')
  })
})
