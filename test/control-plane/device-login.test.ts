/**
 * The device login (RFC 8628) through the control plane, against the development IdP with device
 * authorization on: `POST /v1/auth/device` hands out a user code and an unguessable device
 * handle, a person approves the code on the IdP's pages, and `POST /v1/auth/device/poll` yields
 * the same session a browser login yields, once. Polling faster than the interval is slowed
 * down; pending device logins are capped and expire; an issuer without a device authorization
 * endpoint is a failed precondition naming it. `tare api login --device` does it all.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, it } from 'node:test'
import { Client, type GetMeResponse } from '../../shared/client/index.ts'
import { Browser } from '../support/browser.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { assertError, decodeJwt, type HttpResult, http, sleep, tableCounts } from '../support/http.ts'
import { tempDir } from '../support/process.ts'
import { startTare, type TareEnv, tareJson } from '../support/tare.ts'
import { startTestIdp, type TestIdp } from '../support/test-idp.ts'

/** `POST /v1/auth/device` from another loopback address (another client for the per-client cap). */
function startFrom(cp: TestControlPlane, localAddress: string): Promise<HttpResult> {
  const url = new URL('/v1/auth/device', cp.url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': 2 },
      },
      (res) => {
        let text = ''
        res.on('data', (c: Buffer) => {
          text += c.toString()
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: new Headers(), text, body: JSON.parse(text) }),
        )
      },
    )
    req.on('error', reject)
    req.end('{}')
  })
}

const start = (cp: TestControlPlane, json: unknown = {}) => http(cp.url, 'POST', '/v1/auth/device', { json })
const poll = (cp: TestControlPlane, handle: string) =>
  http(cp.url, 'POST', '/v1/auth/device/poll', { json: { device_handle: handle } })

describe('device login through the control plane (development IdP, device flow on)', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane()
  })
  after(() => cp?.stop())

  it('starts with a user code and an unguessable handle; pending until approved; then a session, once', async () => {
    const started = await start(cp)
    assert.equal(started.status, 200, started.text)
    const d = started.body
    assert.match(d.device_handle, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
    assert.match(d.user_code, /^[A-Z]{4}-[A-Z]{4}$/)
    assert.ok(d.verification_uri.startsWith(new URL(d.verification_uri).origin))
    assert.ok(
      d.verification_uri_complete.includes(encodeURIComponent(d.user_code)) ||
        d.verification_uri_complete.includes(d.user_code),
    )
    assert.equal(d.interval, 5)
    assert.ok(d.expires_in > 0 && d.expires_in <= 600, `${d.expires_in}`)
    assert.equal(JSON.stringify(started.body).includes('device_code'), false, 'the device code stays inside')

    const pending = await poll(cp, d.device_handle)
    assert.equal(pending.status, 200, pending.text)
    assert.deepEqual(pending.body, { status: 'authorization_pending', interval: 5 })

    // The person types the code on the bare verification page, confirms, signs in.
    const page = await new Browser().approveDevice(d.verification_uri, 'device-user@example.com', d.user_code)
    assert.match(page, /Sign-in Success/)

    await sleep(d.interval * 1000)
    const done = await poll(cp, d.device_handle)
    assert.equal(done.status, 200, done.text)
    assert.equal(done.body.status, 'complete')
    assert.equal(done.body.identity.email, 'device-user@example.com')
    assert.equal(decodeJwt(done.body.session_token).payload.use, 'session')
    assert.match(
      done.headers.get('set-cookie') ?? '',
      /HttpOnly/i,
      'the session cookie, as after a browser login',
    )
    const me = (await new Client({
      baseUrl: cp.url,
      apiKey: done.body.session_token,
    }).me.get()) as GetMeResponse
    assert.equal(me.identity.email, 'device-user@example.com')

    // Single use: the handle is gone with the login it completed.
    await sleep(d.interval * 1000)
    assertError(await poll(cp, d.device_handle), 'invalid_argument', 'device_handle')
    assert.equal(tableCounts(cp.dataDir).device_logins, 0)
    // Neither the handle nor the session it yielded reaches the logs.
    const logs = cp.process.output()
    assert.ok(!logs.includes(d.device_handle), 'no device handle in the logs')
    assert.ok(!logs.includes(done.body.session_token), 'no session token in the logs')
  })

  it('a poll sooner than the interval is slow_down, and the interval grows by 5 s', async () => {
    const { body: d } = await start(cp)
    assert.equal((await poll(cp, d.device_handle)).body.status, 'authorization_pending')
    const early = await poll(cp, d.device_handle)
    assert.deepEqual(early.body, { status: 'slow_down', interval: 10 })
    const again = await poll(cp, d.device_handle)
    assert.deepEqual(again.body, { status: 'slow_down', interval: 15 })
  })

  it('refuses a guessed, empty or malformed handle, naming device_handle, and writes nothing', async () => {
    const before = tableCounts(cp.dataDir)
    assertError(await poll(cp, 'A'.repeat(43)), 'invalid_argument', 'device_handle')
    assertError(await poll(cp, ''), 'invalid_argument', 'device_handle')
    assertError(
      await http(cp.url, 'POST', '/v1/auth/device/poll', { json: { device_handle: 'x', extra: 1 } }),
      'invalid_argument',
    )
    assertError(await start(cp, { issuer: 'nope' }), 'invalid_argument', 'issuer')
    assert.deepEqual(tableCounts(cp.dataDir), before)
  })

  it('an aborted approval is refused at the next poll, and the handle is spent', async () => {
    const { body: d } = await start(cp)
    const browser = new Browser()
    // Open the confirmation page and press Abort instead of Continue.
    const confirm = await browser.request(d.verification_uri_complete)
    let html = await confirm.text()
    const autoSubmit = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const hidden = (text: string) =>
      Object.fromEntries(
        [...text.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [
          m[1]!,
          m[2]!,
        ]),
      )
    const confirmPage = await browser.request(autoSubmit!, { form: hidden(html) })
    html = await confirmPage.text()
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    const aborted = await browser.request(new URL(action!, d.verification_uri).href, {
      form: { ...hidden(html), abort: 'yes' },
    })
    await aborted.body?.cancel()
    const refused = await poll(cp, d.device_handle)
    assertError(refused, 'permission_denied')
    await sleep(d.interval * 1000)
    assertError(await poll(cp, d.device_handle), 'invalid_argument', 'device_handle')
  })

  it('tare api login --device prints the code, completes when it is approved, and whoami works after', async () => {
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-device-') }
    const running = startTare(['api', 'login', '--device', '--timeout', '120'], env)
    const [, uri] = await running.waitFor(/open (http:\/\/\S+\/device) and enter the code/)
    const [code] = await running.waitFor(/\b[A-Z]{4}-[A-Z]{4}\b/)
    await new Browser().approveDevice(uri!, 'cli-device@example.com', code)
    const result = await running.done
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Logged in as cli-device@example\.com/)
    const me = await tareJson<GetMeResponse>(['api', 'whoami'], env)
    assert.equal(me.identity.email, 'cli-device@example.com')
  })
})

describe('device login: caps, expiry and purge', () => {
  const TTL_SEC = 2
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane({
      AGENTROUTER_LOGIN_STATE_TTL: `${TTL_SEC}s`,
      AGENTROUTER_LOGIN_PENDING_MAX: '3',
      AGENTROUTER_LOGIN_PENDING_PER_CLIENT_MAX: '2',
    })
  })
  after(() => cp?.stop())

  it('caps pending device logins per client and overall, expires them, and purges the rows', async () => {
    const first = await start(cp)
    assert.equal(first.status, 200, first.text)
    assert.equal(
      first.body.expires_in,
      TTL_SEC,
      'the shorter of the IdP expiry and AGENTROUTER_LOGIN_STATE_TTL',
    )
    assert.equal((await start(cp)).status, 200)
    const refused = await start(cp)
    assertError(refused, 'resource_exhausted')
    assert.equal(refused.body.details[0]?.scope, 'client')
    assert.match(refused.headers.get('retry-after') ?? '', /^[12]$/)
    assert.equal(tableCounts(cp.dataDir).device_logins, 2, 'nothing written by the refused start')
    assert.equal((await startFrom(cp, '127.0.0.3')).status, 200, 'another client still may')
    const overall = await startFrom(cp, '127.0.0.4')
    assert.equal(overall.status, 429)
    assert.equal(overall.body.details[0]?.scope, 'global')

    await sleep(TTL_SEC * 1000 + 200)
    assertError(await poll(cp, first.body.device_handle), 'invalid_argument', 'device_handle')
    assert.equal((await start(cp)).status, 200, 'expired logins do not count')

    const deadline = Date.now() + TTL_SEC * 1000 + 5_000
    while ((tableCounts(cp.dataDir).device_logins ?? 0) > 1 && Date.now() < deadline) await sleep(200)
    assert.equal(tableCounts(cp.dataDir).device_logins, 1, 'expired rows are deleted off the request path')
  })
})

describe('device login: an issuer without a device authorization endpoint', () => {
  let idp: TestIdp
  let cp: TestControlPlane
  before(async () => {
    idp = await startTestIdp()
    cp = await startControlPlane({ AGENTROUTER_OIDC_ISSUERS: JSON.stringify([idp.entry('corp')]) })
  })
  after(async () => {
    await cp?.stop()
    await idp?.close()
  })

  it('is a failed precondition naming device_authorization_endpoint, and tare says so', async () => {
    const res = await start(cp)
    assertError(res, 'failed_precondition')
    assert.match(res.body.message, /"corp" advertises no device_authorization_endpoint/)
    assert.equal(tableCounts(cp.dataDir).device_logins, 0)
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-device-') }
    const result = await startTare(['api', 'login', '--device'], env).done
    assert.equal(result.code, 1)
    assert.match(result.stderr, /failed_precondition: .*device_authorization_endpoint/)
  })
})

describe('device login: the caps are checked before the identity provider is asked', () => {
  let idp: TestIdp
  let cp: TestControlPlane
  before(async () => {
    idp = await startTestIdp(undefined, { deviceFlow: true })
    cp = await startControlPlane({
      AGENTROUTER_OIDC_ISSUERS: JSON.stringify([idp.entry('corp')]),
      AGENTROUTER_LOGIN_PENDING_MAX: '3',
      AGENTROUTER_LOGIN_PENDING_PER_CLIENT_MAX: '2',
    })
  })
  after(async () => {
    await cp?.stop()
    await idp?.close()
  })

  const calls = (line: string) => idp.requests.filter((r) => r === line).length

  it('a failing IdP leaves no reservation behind: the slot is free again', async () => {
    idp.deviceDown = true
    for (let i = 0; i < 3; i++) assertError(await start(cp), 'unavailable')
    assert.equal(calls('POST /device/auth'), 3)
    assert.equal(tableCounts(cp.dataDir).device_logins, 0, 'each reservation removed')
    idp.deviceDown = false
  })

  it('a capped client, and everyone past the overall cap, costs no request to the IdP', async () => {
    const before = calls('POST /device/auth')
    const results = []
    for (let i = 0; i < 10; i++) results.push(await start(cp))
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 429, 429, 429, 429, 429, 429, 429, 429],
    )
    assert.equal(calls('POST /device/auth') - before, 2, 'only the two admitted starts reached the IdP')
    assert.equal(tableCounts(cp.dataDir).device_logins, 2)

    assert.equal((await startFrom(cp, '127.0.0.3')).status, 200, 'another client still may')
    for (let i = 0; i < 5; i++) {
      const overall = await startFrom(cp, '127.0.0.4')
      assertError(overall, 'resource_exhausted')
      assert.equal(overall.body.details[0]?.scope, 'global')
    }
    assert.equal(calls('POST /device/auth') - before, 3, 'the overall cap, too, is checked first')
    assert.equal(tableCounts(cp.dataDir).device_logins, 3)

    // An admitted start holds the IdP's device code: its poll reaches the IdP and is pending.
    const tokenCalls = calls('POST /token')
    const pending = await poll(cp, results[0]!.body.device_handle)
    assert.equal(pending.status, 200, pending.text)
    assert.equal(pending.body.status, 'authorization_pending')
    assert.equal(calls('POST /token'), tokenCalls + 1)
  })
})
