/**
 * @module Everything an inference test needs, all real: a control plane, a local LLM upstream
 * and a dataplane between them, and callers who logged in through the IdP and hold an API key
 * (their personal project's owner, so they may register its provider keys).
 */
import assert from 'node:assert/strict'
import type { Client } from '../../shared/client/index.ts'
import { startControlPlane, type TestControlPlane } from './control-plane.ts'
import { type DataplaneOptions, startDataplane, type TestDataplane } from './dataplane.ts'
import { startUpstream, type TestUpstream } from './upstream.ts'

export interface Caller {
  email: string
  identityId: string
  customerId: string
  projectId: string
  sessionToken: string
  /** A prompt API key, `ak-…` as issued. */
  apiKey: string
  apiKeyId: string
  /** The control-plane client acting with the session. */
  client: Client
}

export interface InferenceWorld {
  cp: TestControlPlane
  upstream: TestUpstream
  dp: TestDataplane
  /** Logs in (a new identity per email) and issues an API key. */
  caller(email: string): Promise<Caller>
  /** Another dataplane on the same control plane and upstream. */
  dataplane(options?: Partial<DataplaneOptions>): Promise<TestDataplane>
  stop(): Promise<void>
}

export async function startInferenceWorld(
  options: { cpEnv?: Record<string, string>; dpEnv?: Record<string, string> } = {},
): Promise<InferenceWorld> {
  const [cp, upstream] = await Promise.all([startControlPlane(options.cpEnv), startUpstream()])
  const extra: TestDataplane[] = []
  const dataplane = (o: Partial<DataplaneOptions> = {}) =>
    startDataplane({
      controlPlaneUrl: cp.url,
      dataplaneKey: cp.dataplaneKey,
      upstream: upstream.url,
      ...o,
      env: { ...options.dpEnv, ...o.env },
    })
  const dp = await dataplane()
  return {
    cp,
    upstream,
    dp,
    async caller(email) {
      const login = await cp.login(email)
      const { key, secret } = await login.client.me.issueKey(`${email} inference`)
      return {
        email,
        identityId: login.identityId,
        customerId: login.customerId,
        projectId: login.projectId,
        sessionToken: login.sessionToken,
        apiKey: secret,
        apiKeyId: key.id,
        client: login.client,
      }
    },
    async dataplane(o) {
      const d = await dataplane(o)
      extra.push(d)
      return d
    },
    async stop() {
      await Promise.all([dp.stop(), ...extra.map((d) => d.stop()), cp.stop(), upstream.close()])
    },
  }
}

/** A chat completion request through the dataplane with a raw `fetch`. */
export async function chat(
  dataplaneUrl: string,
  token: string,
  init: { headers?: Record<string, string>; body?: unknown; path?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Headers }> {
  const res = await fetch(`${dataplaneUrl}${init.path ?? '/openai/v1/chat/completions'}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(init.body ?? { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }),
    signal: init.signal,
  })
  const text = await res.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    // not JSON (a stream)
  }
  return { status: res.status, body, text, headers: res.headers }
}

/** Polls `probe` until it returns true; resolves the ms it took, or rejects after `timeoutMs`. */
export async function within(
  timeoutMs: number,
  probe: () => Promise<boolean>,
  what = 'condition',
): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now() - started
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

/** An error the dataplane produced on an OpenAI route (`/openai/v1/*`, `/v1/*`). */
export interface OpenAIErrorObject {
  message: string
  type: string
  param: string | null
  code: string
}

/** The `error` of an OpenAI-dialect body, after checking it is exactly that shape. */
export function openaiErrorOf(body: unknown): OpenAIErrorObject {
  const error = (body as { error?: OpenAIErrorObject } | undefined)?.error
  assert.ok(error, `an OpenAI error body: ${JSON.stringify(body)}`)
  assert.deepEqual(Object.keys(body as object), ['error'], JSON.stringify(body))
  assert.deepEqual(Object.keys(error), ['message', 'type', 'param', 'code'], JSON.stringify(body))
  return error
}

/** The `error` of an Anthropic-dialect body (`/anthropic/v1/*`), after checking its shape. */
export function anthropicErrorOf(body: unknown): { type: string; message: string } {
  const b = body as { type?: string; error?: { type: string; message: string } } | undefined
  assert.equal(b?.type, 'error', JSON.stringify(body))
  assert.deepEqual(Object.keys(b!.error ?? {}), ['type', 'message'], JSON.stringify(body))
  return b!.error!
}
