/**
 * The README's quick start, as a person would run it: `npm start` (control plane, development
 * IdP, dataplane), `tare api login` in a browser, `tare api byok add`, `tare api keys create`,
 * then a streamed chat completion with the official `openai` SDK through the dataplane. The
 * upstream is a local stand-in for OpenAI, so the test also sees which key reached it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import OpenAI from 'openai'
import type { IssueMyKeyResponse, RegisterAiKeyResponse } from '../../shared/client/index.ts'
import { tempDir } from '../support/process.ts'
import { startStack, type TestStack } from '../support/stack.ts'
import { type TareEnv, tareJson, tareLogin } from '../support/tare.ts'
import { startUpstream, type TestUpstream, WORDS } from '../support/upstream.ts'

describe('quick start: npm start, tare, and the openai SDK through the dataplane', () => {
  let upstream: TestUpstream
  let stack: TestStack
  let me: TareEnv

  before(async () => {
    upstream = await startUpstream()
    stack = await startStack({ AGENTROUTER_UPSTREAM_OPENAI: upstream.url })
    me = { baseUrl: stack.controlPlaneUrl, configHome: tempDir('quickstart-') }
  })
  after(async () => {
    await stack?.stop()
    await upstream?.close()
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

    const openai = new OpenAI({ baseURL: `${stack.dataplaneUrl}/openai/v1`, apiKey: secret, maxRetries: 0 })
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
  })
})
