/**
 * The revocation stream (`/v1/tokens/revocations/stream`, WebSocket) as a dataplane sees it:
 * authenticated at the upgrade, every revocation pushed within 100 ms of the DELETE returning,
 * resume from a cursor without a gap or a repeat, acknowledgements visible to admins, and
 * `?wait=enforced` answering once the connected dataplanes applied a revocation (or naming those
 * that did not).
 */
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import type { StreamServerMessage } from '../../shared/contract/tokens.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { http, metrics, metricValue, sleep } from '../support/http.ts'

type RevocationMessage = Extract<StreamServerMessage, { type: 'revocation' }>

/** A dataplane-like subscriber that timestamps every message and acks only when told to. */
class Subscriber {
  readonly messages: Array<{ at: number; message: StreamServerMessage }> = []
  readonly closed: Promise<{ code: number; reason: string }>
  #waiters = new Set<() => void>()

  private constructor(
    readonly ws: WebSocket,
    public autoAck: boolean,
  ) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as StreamServerMessage
      this.messages.push({ at: performance.now(), message })
      if (this.autoAck && message.type === 'revocation') this.ack(message.cursor)
      for (const w of this.#waiters) w()
    })
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        resolve({ code, reason: reason.toString() })
        for (const w of this.#waiters) w()
      }),
    )
  }

  static async connect(
    cp: TestControlPlane,
    options: { key?: string; since?: string; name?: string; autoAck?: boolean } = {},
  ): Promise<Subscriber> {
    const url = new URL(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream`)
    if (options.since) url.searchParams.set('since', options.since)
    if (options.name) url.searchParams.set('name', options.name)
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${options.key ?? cp.dataplaneKey}` } })
    const sub = new Subscriber(ws, options.autoAck ?? false)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    await sub.waitFor((m) => m.type === 'hello')
    return sub
  }

  get revocations(): RevocationMessage[] {
    return this.messages.map((m) => m.message).filter((m): m is RevocationMessage => m.type === 'revocation')
  }

  ack(cursor: string): void {
    this.ws.send(JSON.stringify({ type: 'ack', cursor }))
  }

  /** The first message that matches, with when it arrived. */
  async waitFor(
    match: (m: StreamServerMessage) => boolean,
    timeoutMs = 5_000,
  ): Promise<{ at: number; message: StreamServerMessage }> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const hit = this.messages.find((m) => match(m.message))
      if (hit) return hit
      const left = deadline - performance.now()
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(
          `no matching message within ${timeoutMs} ms: ${JSON.stringify(this.messages.slice(-5))}`,
        )
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(wake, left)
        this.#waiters.add(wake)
      })
    }
  }

  async close(): Promise<void> {
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.close()
    await this.closed
  }
}

/** The HTTP status a refused upgrade answers with. */
function upgradeStatus(
  cp: TestControlPlane,
  query: string,
  headers: Record<string, string>,
): Promise<number> {
  const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/v1/tokens/revocations/stream${query}`, {
    headers,
  })
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      res.resume()
      ws.terminate()
    })
    ws.once('open', () => {
      ws.terminate()
      resolve(101)
    })
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

describe('revocation stream', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let root: LoginResult
  const subscribers: Subscriber[] = []

  const connect = async (options: Parameters<typeof Subscriber.connect>[1] = {}) => {
    const sub = await Subscriber.connect(cp, options)
    subscribers.push(sub)
    return sub
  }
  /** The newest cursor: where a subscriber that wants only new revocations starts. */
  const head = async () => (await cp.admin.admin.listDataplanes()).head_cursor
  const newKey = async (name = 'streamed') => (await user.client.me.issueKey(name)).key.id
  /**
   * The dataplanes listed as connected (on PostgreSQL, where the registry is shared by replicas,
   * disconnected ones stay listed, as such, until they age out).
   */
  const connectedDataplanes = async () =>
    (await cp.admin.admin.listDataplanes()).dataplanes.filter((d) => d.connected)
  /** Closes every subscriber and waits until the control plane no longer counts them connected. */
  const disconnectAll = async () => {
    await Promise.all(subscribers.splice(0).map((s) => s.close()))
    for (let i = 0; i < 100 && (await connectedDataplanes()).length > 0; i++) await sleep(10)
    assert.deepEqual(await connectedDataplanes(), [])
  }

  before(async () => {
    cp = await startControlPlane({
      AGENTROUTER_ADMIN_EMAILS: 'root@example.com',
      // Short, so heartbeat tests are quick; not so short that a loaded test process, busy
      // issuing hundreds of keys, misses a ping and is dropped mid-replay.
      AGENTROUTER_STREAM_HEARTBEAT: '500ms',
    })
    ;[user, root] = await Promise.all([cp.login('dp-user@example.com'), cp.login('root@example.com')])
  })
  afterEach(() => disconnectAll())
  after(() => cp?.stop())

  it('refuses an upgrade without a credential (401) or with a prompt key or plain session (403)', async () => {
    const prompt = (await user.client.me.issueKey('prompt')).secret
    assert.equal(await upgradeStatus(cp, '', {}), 401)
    assert.equal(await upgradeStatus(cp, '', { authorization: 'Bearer not.a.token' }), 401)
    assert.equal(await upgradeStatus(cp, '', { authorization: `Bearer ${prompt}` }), 403)
    assert.equal(await upgradeStatus(cp, '', { authorization: `Bearer ${user.sessionToken}` }), 403)
    assert.equal(
      await upgradeStatus(cp, '?since=yesterday', { authorization: `Bearer ${cp.dataplaneKey}` }),
      400,
    )
    assert.equal(await upgradeStatus(cp, '?bogus=1', { authorization: `Bearer ${cp.dataplaneKey}` }), 400)
    assert.equal(await upgradeStatus(cp, '', { authorization: `Bearer ${cp.dataplaneKey}` }), 101)
    assert.equal(await upgradeStatus(cp, '', { authorization: `Bearer ${cp.adminKey}` }), 101)
  })

  it('greets with the head cursor and pushes a revocation within 100 ms of the DELETE returning', async () => {
    const sub = await connect({ since: await head() })
    const hello = sub.messages[0]!.message
    assert.equal(hello.type, 'hello')
    for (let i = 0; i < 5; i++) {
      const id = await newKey()
      const res = await http(cp.url, 'DELETE', `/v1/me/keys/${id}`, { token: user.sessionToken })
      const returned = performance.now()
      assert.equal(res.status, 200)
      const { at, message } = await sub.waitFor(
        (m) => m.type === 'revocation' && m.revocation.jti === id,
        1_000,
      )
      assert.ok(at - returned < 100, `pushed ${Math.round(at - returned)} ms after the DELETE returned`)
      const pushed = message as RevocationMessage
      assert.equal(pushed.cursor, res.body.key.revoked_at)
      assert.equal(pushed.revocation.revoked_at, pushed.cursor)
      assert.equal(pushed.revocation.kind, 'api_key')
    }
  })

  it('resumes from its cursor after a disconnect: nothing made in between is missed or repeated', async () => {
    const first = await connect({ since: await head() })
    const before = [await newKey(), await newKey(), await newKey()]
    for (const id of before) await user.client.me.revokeKey(id)
    await first.waitFor((m) => m.type === 'revocation' && m.revocation.jti === before[2])
    const cursor = first.revocations.at(-1)!.cursor
    await first.close()

    const missed: string[] = []
    for (let i = 0; i < 5; i++) {
      const id = await newKey()
      await user.client.me.revokeKey(id)
      missed.push(id)
    }
    const extra = await cp.login('dp-user@example.com')
    await extra.client.me.logout()
    const sessionJti = JSON.parse(Buffer.from(extra.sessionToken.split('.')[1]!, 'base64url').toString()).jti

    const resumed = await connect({ since: cursor })
    const live = await newKey()
    await user.client.me.revokeKey(live)
    await resumed.waitFor((m) => m.type === 'revocation' && m.revocation.jti === live)
    assert.deepEqual(
      resumed.revocations.map((m) => m.revocation.jti),
      [...missed, sessionJti, live],
      'exactly the revocations after the cursor, in order, then the live one',
    )
    assert.equal(resumed.revocations.find((m) => m.revocation.jti === sessionJti)?.revocation.kind, 'session')
    const cursors = resumed.revocations.map((m) => m.cursor)
    assert.deepEqual([...cursors].sort(), cursors)
    assert.equal(new Set(cursors).size, cursors.length)
  })

  it('replays a backlog longer than a page from since=0 while revocations keep coming, without a gap', async () => {
    const ids: string[] = []
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 80; i++) ids.push(await newKey('backlog'))
      }),
    )
    await Promise.all(ids.slice(0, 560).map((id) => user.client.me.revokeKey(id)))
    const all = (await cp.admin.tokens.getRevocationList()).revocations.length
    assert.ok(all > 500, 'more than one backlog page')

    const sub = await connect({})
    // Revocations made while the backlog is being replayed.
    await Promise.all(ids.slice(560).map((id) => user.client.me.revokeKey(id)))
    const expected = (await cp.admin.tokens.getRevocationList()).revocations
    await sub.waitFor((m) => m.type === 'revocation' && m.cursor === expected.at(-1)!.revoked_at, 10_000)
    assert.deepEqual(
      sub.revocations.map((m) => m.revocation),
      expected,
      'every revocation once, in cursor order, across the switch to live',
    )
  })

  it('shows acknowledged cursors, lag and last contact in GET /v1/admin/dataplanes', async () => {
    const sub = await connect({ since: await head(), name: 'edge-1' })
    const [listed] = (await cp.admin.admin.listDataplanes()).dataplanes
    assert.ok(listed)
    assert.equal(listed.name, 'edge-1')
    assert.equal(listed.connected, true)
    assert.match(listed.id, /^dp_/)
    assert.equal(
      listed.key_id,
      JSON.parse(Buffer.from(cp.dataplaneKey.split('.')[1]!, 'base64url').toString()).jti,
    )
    assert.equal(listed.lag_entries, 0)

    // An ack past the head does not pre-acknowledge revocations still to come.
    sub.ack('2099-01-01T00:00:00.000000Z')
    await sleep(50)
    assert.equal((await cp.admin.admin.listDataplanes()).dataplanes[0]!.applied_cursor, listed.applied_cursor)

    const id = await newKey()
    const { key } = await user.client.me.revokeKey(id)
    await sub.waitFor((m) => m.type === 'revocation' && m.revocation.jti === id)
    const behind = (await cp.admin.admin.listDataplanes()).dataplanes[0]!
    assert.equal(behind.lag_entries, 1, 'not acknowledged yet')
    assert.ok(behind.lag_ms >= 0)
    assert.ok(behind.applied_cursor < key.revoked_at!)

    sub.ack(key.revoked_at!)
    let acked = behind
    for (let i = 0; i < 100 && acked.applied_cursor !== key.revoked_at; i++) {
      await sleep(10)
      acked = (await cp.admin.admin.listDataplanes()).dataplanes[0]!
    }
    assert.equal(acked.applied_cursor, key.revoked_at)
    assert.equal(acked.lag_entries, 0)
    assert.equal(acked.lag_ms, 0)
    assert.ok(acked.last_contact_at >= behind.last_contact_at)
    assert.equal((await cp.admin.admin.listDataplanes()).head_cursor, await head())
  })

  it('?wait=enforced answers enforced once the dataplane acks, and times out naming it when it does not', async () => {
    const none = await user.client.me.revokeKey(await newKey(), { wait: 'enforced' })
    assert.equal(none.enforcement?.status, 'no_dataplanes')

    await connect({ since: await head(), name: 'acking-dp', autoAck: true })
    const enforced = await http(cp.url, 'DELETE', `/v1/me/keys/${await newKey()}`, {
      token: user.sessionToken,
      query: { wait: 'enforced' },
    })
    assert.equal(enforced.status, 200, enforced.text)
    assert.equal(enforced.body.enforcement.status, 'enforced')
    assert.equal(enforced.body.enforcement.cursor, enforced.body.key.revoked_at)
    assert.deepEqual(enforced.body.enforcement.pending, [])
    assert.ok(enforced.body.enforcement.enforced_by.some((n: string) => n.includes('acking-dp')))

    const silent = await connect({ since: await head(), name: 'silent-dp', autoAck: false })
    const started = performance.now()
    const timedOut = await http(cp.url, 'DELETE', `/v1/me/keys/${await newKey()}`, {
      token: user.sessionToken,
      query: { wait: 'enforced', timeout_ms: '300' },
    })
    const waited = performance.now() - started
    assert.equal(timedOut.status, 200, timedOut.text)
    const e = timedOut.body.enforcement
    assert.equal(e.status, 'timeout')
    assert.ok(e.pending.length === 1 && e.pending[0].includes('silent-dp'), JSON.stringify(e))
    assert.ok(e.enforced_by.some((n: string) => n.includes('acking-dp')))
    assert.ok(waited >= 290 && e.waited_ms >= 290, `waited ${waited} ms`)
    assert.equal(timedOut.body.key.state, 'KEY_STATE_REVOKED', 'the revocation itself is done')

    // An ack arriving during the wait completes it.
    const late = await newKey()
    const pending = http(cp.url, 'DELETE', `/v1/me/keys/${late}`, {
      token: user.sessionToken,
      query: { wait: 'enforced', timeout_ms: '5000' },
    })
    const { message } = await silent.waitFor((m) => m.type === 'revocation' && m.revocation.jti === late)
    silent.ack((message as RevocationMessage).cursor)
    const done = await pending
    assert.equal(done.body.enforcement.status, 'enforced')

    // Logout waits the same way.
    const session = await cp.login('dp-user@example.com')
    silent.autoAck = true
    const out = await http(cp.url, 'POST', '/v1/auth/logout', {
      token: session.sessionToken,
      json: {},
      query: { wait: 'enforced' },
    })
    assert.equal(out.body.enforcement.status, 'enforced', out.text)
  })

  it('sends heartbeats carrying the head cursor', async () => {
    const sub = await connect({ since: await head() })
    const { message } = await sub.waitFor((m) => m.type === 'heartbeat', 2_000)
    assert.equal((message as { head: string }).head, await head())
  })

  it('drops a subscriber that stops answering heartbeats', async () => {
    const before = metricValue(await metrics(cp.url), 'agentrouter_cp_stream_disconnects_total', {
      reason: 'unresponsive',
    })
    const sub = await connect({ since: await head(), name: 'frozen' })
    const socket = (sub.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause() // reads nothing, so answers no ping
    let dropped = false
    for (let i = 0; i < 100 && !dropped; i++) {
      await sleep(20)
      dropped = !(await connectedDataplanes()).some((d) => d.name === 'frozen')
    }
    socket.resume()
    assert.ok(dropped, 'the control plane let go of the unresponsive subscriber')
    await sub.closed
    const after = metricValue(await metrics(cp.url), 'agentrouter_cp_stream_disconnects_total', {
      reason: 'unresponsive',
    })
    assert.equal(after, before + 1)
  })

  it('closes a stream whose own key is revoked', async () => {
    const dp = await root.client.me.issueKey('doomed dataplane', { type: 'KEY_TYPE_DATAPLANE' })
    const sub = await connect({ key: dp.secret, since: await head() })
    await root.client.me.revokeKey(dp.key.id)
    const closed = await Promise.race([sub.closed, sleep(2_000).then(() => undefined)])
    assert.ok(closed, 'the stream closed')
    assert.equal(closed.code, 4001)
    assert.equal(await upgradeStatus(cp, '', { authorization: `Bearer ${dp.secret}` }), 401)
  })

  it('counts connected stream clients in /metrics', async () => {
    assert.equal(metricValue(await metrics(cp.url), 'agentrouter_cp_stream_clients'), 0)
    await connect({ since: await head() })
    await connect({ since: await head(), key: cp.adminKey })
    assert.equal(metricValue(await metrics(cp.url), 'agentrouter_cp_stream_clients'), 2)
    await disconnectAll()
    assert.equal(metricValue(await metrics(cp.url), 'agentrouter_cp_stream_clients'), 0)
  })
})
