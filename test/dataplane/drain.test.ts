/**
 * Shutdown drains streams in flight (`AGENTROUTER_DRAIN_TIMEOUT`): on SIGTERM the dataplane stops
 * accepting connections, a stream shorter than the drain finishes whole, one still running at the
 * timeout is cut, and one log record counts both; the process then exits 0.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Caller, type InferenceWorld, startInferenceWorld } from '../support/inference.ts'
import { WORDS } from '../support/upstream.ts'

const DRAIN_MS = 4_000
const STREAM = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], stream: true }

/** A streamed chat completion, read as it arrives; `firstChunk` resolves once bytes came. */
async function openStream(dataplaneUrl: string, token: string, headers: Record<string, string>) {
  const res = await fetch(`${dataplaneUrl}/openai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(STREAM),
  })
  assert.equal(res.status, 200)
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  let signalFirst: () => void = () => {}
  const firstChunk = new Promise<void>((resolve) => {
    signalFirst = resolve
  })
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return { text, complete: true, endedAt: Date.now() }
        text += decoder.decode(value, { stream: true })
        signalFirst()
      }
    } catch {
      return { text, complete: false, endedAt: Date.now() }
    }
  })()
  return { firstChunk, done }
}

describe('dataplane shutdown drains streams in flight', () => {
  let world: InferenceWorld
  let alice: Caller

  before(async () => {
    world = await startInferenceWorld({ dpEnv: { AGENTROUTER_DRAIN_TIMEOUT: `${DRAIN_MS / 1000}s` } })
    alice = await world.caller('drain@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-drain')
  })
  after(() => world?.stop())

  it('finishes a stream shorter than the drain, cuts one longer at the timeout and logs both counts', async () => {
    const dp = world.dp
    // About 2 s of events: shorter than the drain.
    const short = await openStream(dp.url, alice.apiKey, {
      'x-upstream-behaviour': 'slow',
      'x-upstream-interval-ms': '250',
    })
    // Headers, then nothing: still running at the drain timeout.
    const endless = await openStream(dp.url, alice.apiKey, { 'x-upstream-behaviour': 'stall-body' })
    await short.firstChunk

    const signalled = Date.now()
    dp.process.kill('SIGTERM')
    await new Promise((r) => setTimeout(r, 200))
    await assert.rejects(
      fetch(`${dp.url}/openai/v1/chat/completions`, { method: 'POST', body: '{}' }),
      'no new connection is accepted while draining',
    )

    const finished = await short.done
    assert.ok(finished.complete, 'the short stream ended normally')
    for (const word of WORDS) assert.ok(finished.text.includes(JSON.stringify(word)), `it carried ${word}`)
    assert.match(finished.text, /data: \[DONE\]/)

    const cut = await endless.done
    assert.ok(
      cut.endedAt - signalled >= DRAIN_MS - 100,
      `the endless stream was kept for the drain (${cut.endedAt - signalled} ms)`,
    )
    assert.ok(!cut.text.includes('[DONE]'))

    assert.equal(await dp.process.exited, 0)
    const record = dp.process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((r) => r.msg === 'requests in flight cut at the drain timeout')
    assert.ok(record, `a drain record in:\n${dp.process.output().slice(-3000)}`)
    assert.equal(record.level, 'warn')
    assert.equal(record.in_flight, 2)
    assert.equal(record.completed, 1)
    assert.equal(record.cut, 1)
    assert.equal(record.drain_timeout_ms, DRAIN_MS)
    const stalled = world.upstream.requests.find((r) => r.headers['x-upstream-behaviour'] === 'stall-body')
    assert.ok(stalled?.aborted, 'the cut stream was closed upstream too')
  })
})
