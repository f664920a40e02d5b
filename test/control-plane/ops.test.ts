/**
 * Operations: `/metrics` counts requests by route and code (with latency), revocations issued by
 * kind and connected stream clients; the logs carry no credential the control plane handled.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { Browser } from '../support/browser.ts'
import {
  LOOPBACK_REDIRECT,
  type LoginResult,
  startControlPlane,
  type TestControlPlane,
} from '../support/control-plane.ts'
import { http, metrics, metricValue } from '../support/http.ts'
import { pkcePair } from '../support/pkce.ts'

const REQUESTS = 'agentrouter_cp_http_requests_total'

describe('operations', () => {
  let cp: TestControlPlane
  let user: LoginResult
  const secrets: string[] = []

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('ops@example.com')
    secrets.push(user.sessionToken, cp.adminKey, cp.dataplaneKey)
  })
  after(() => cp?.stop())

  it('counts requests by method, route and code, with latency by route', async () => {
    const text0 = await metrics(cp.url)
    const count = (text: string, method: string, route: string, code: string) =>
      metricValue(text, REQUESTS, { method, route, code })
    const me200 = count(text0, 'GET', '/v1/me', '200')
    const me401 = count(text0, 'GET', '/v1/me', '401')
    const revoke404 = count(text0, 'DELETE', '/v1/me/keys/:key_id', '404')
    const unmatched = count(text0, 'GET', 'unmatched', '404')

    await http(cp.url, 'GET', '/v1/me', { token: user.sessionToken })
    await http(cp.url, 'GET', '/v1/me', { token: user.sessionToken })
    await http(cp.url, 'GET', '/v1/me', { token: 'nope' })
    await http(cp.url, 'DELETE', '/v1/me/keys/key_01HZZZZZZZZZZZZZZZZZZZZZZZ', { token: user.sessionToken })
    await http(cp.url, 'GET', '/v1/no/such/route/key_01HZZZZZZZZZZZZZZZZZZZZZZZ')

    const text = await metrics(cp.url)
    assert.equal(count(text, 'GET', '/v1/me', '200'), me200 + 2)
    assert.equal(count(text, 'GET', '/v1/me', '401'), me401 + 1)
    assert.equal(
      count(text, 'DELETE', '/v1/me/keys/:key_id', '404'),
      revoke404 + 1,
      'routes are labelled by template, not by id',
    )
    assert.equal(count(text, 'GET', 'unmatched', '404'), unmatched + 1, 'unknown paths share one label')
    assert.doesNotMatch(text, /key_01HZZZZZZZZZZZZZZZZZZZZZZZ/, 'no ids in labels')
    assert.ok(
      metricValue(text, 'agentrouter_cp_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/v1/me',
      }) >= 3,
    )
    const res = await fetch(`${cp.url}/metrics`)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
    await res.body?.cancel()
  })

  it('counts revocations issued, by kind', async () => {
    const before = await metrics(cp.url)
    const key = await user.client.me.issueKey('ops key')
    secrets.push(key.secret)
    await user.client.me.revokeKey(key.key.id)
    const other = await cp.login('ops@example.com')
    secrets.push(other.sessionToken)
    await other.client.me.logout()
    const text = await metrics(cp.url)
    const issued = (t: string, kind: string) =>
      metricValue(t, 'agentrouter_cp_revocations_issued_total', { kind })
    assert.equal(issued(text, 'api_key'), issued(before, 'api_key') + 1)
    assert.equal(issued(text, 'session'), issued(before, 'session') + 1)
  })

  it('reports connected stream clients', async () => {
    const gauge = async () => metricValue(await metrics(cp.url), 'agentrouter_cp_stream_clients')
    assert.equal(await gauge(), 0)
    const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream`, {
      headers: { authorization: `Bearer ${cp.dataplaneKey}` },
    })
    await new Promise((resolve, reject) => {
      ws.once('open', resolve)
      ws.once('error', reject)
    })
    assert.equal(await gauge(), 1)
    const closed = new Promise((resolve) => ws.once('close', resolve))
    ws.close()
    await closed
    for (let i = 0; i < 50 && (await gauge()) !== 0; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(await gauge(), 0)
  })

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual((await http(cp.url, 'GET', '/healthz')).body, { status: 'ok' })
    const ready = await http(cp.url, 'GET', '/readyz')
    assert.equal(ready.status, 200)
    assert.equal(ready.body.ready, true)
  })

  it('never logs a credential, a code or a verifier, even for refused requests', async () => {
    // A failed login: the IdP refuses the code, which the control plane logs as a warning.
    const { verifier, challenge } = pkcePair()
    const started = await user.client.transport.request<{ authorization_url: string }>(
      'POST',
      '/v1/auth/login',
      {
        body: { redirect_uri: LOOPBACK_REDIRECT, code_challenge: challenge, code_challenge_method: 'S256' },
      },
    )
    const { code, state } = await new Browser().authorize(
      started.authorization_url,
      LOOPBACK_REDIRECT,
      'ops@example.com',
    )
    const wrong = pkcePair()
    await http(cp.url, 'POST', '/v1/auth/callback', { json: { code, state, code_verifier: wrong.verifier } })
    // A code the IdP will not redeem, presented with a good state and verifier.
    const second = pkcePair()
    const again = await user.client.transport.request<{ state: string }>('POST', '/v1/auth/login', {
      body: {
        redirect_uri: LOOPBACK_REDIRECT,
        code_challenge: second.challenge,
        code_challenge_method: 'S256',
      },
    })
    const refused = await http(cp.url, 'POST', '/v1/auth/callback', {
      json: { code, state: again.state, code_verifier: second.verifier },
    })
    assert.equal(refused.status, 400)
    secrets.push(code, verifier, wrong.verifier, second.verifier)
    // Refused credentials of every kind.
    await http(cp.url, 'GET', '/v1/me', { token: `${secrets[0]}x` })
    await http(cp.url, 'GET', '/v1/admin/dataplanes', { token: user.sessionToken })

    const output = cp.process.output()
    for (const secret of secrets) {
      const signature = secret.split('.').at(-1)!
      assert.ok(!output.includes(signature), `a secret ending …${signature.slice(-6)} appears in the logs`)
    }
    assert.match(output, /OIDC code redemption refused/, 'the refusal was logged')
  })
})
