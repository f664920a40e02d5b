import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { TestDataplane } from '../support/dataplane.ts'
import { type Caller, chat, type InferenceWorld, startInferenceWorld, within } from '../support/inference.ts'

describe('?wait=enforced with three dataplanes', () => {
  let world: InferenceWorld
  let alice: Caller
  let dps: TestDataplane[]

  before(async () => {
    world = await startInferenceWorld()
    dps = [world.dp, ...(await Promise.all([world.dataplane(), world.dataplane()]))]
    alice = await world.caller('alice@example.com')
    await alice.client.aikeys.register('-', '-', 'openai', 'project', 'sk-enforced')
  })
  after(() => world?.stop())

  const servedEverywhere = async (secret: string) => {
    for (const dp of dps) assert.equal((await chat(dp.url, secret)).status, 200, `served at ${dp.name}`)
  }

  it('answers once all three enforce the revocation, and each refuses the token at once', async () => {
    const { key, secret } = await alice.client.me.issueKey('enforced everywhere')
    await servedEverywhere(secret)
    const { enforcement } = await alice.client.me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 5_000 })
    assert.equal(enforcement?.status, 'enforced', JSON.stringify(enforcement))
    assert.deepEqual(enforcement?.pending, [])
    for (const dp of dps) {
      assert.ok(
        enforcement?.enforced_by.some((label) => label.startsWith(dp.name)),
        `${dp.name} confirmed`,
      )
      assert.equal((await chat(dp.url, secret)).status, 401, `refused at ${dp.name} when the DELETE returns`)
    }
    const { dataplanes } = await world.cp.admin.admin.listDataplanes()
    for (const dp of dps) {
      const listed = dataplanes.find((d) => d.name === dp.name)
      assert.ok(listed, `${dp.name} is listed`)
      assert.equal(listed.lag_entries, 0)
      assert.equal(listed.lag_ms, 0)
      assert.equal(listed.applied_cursor, enforcement?.cursor)
    }
  })

  it('with one frozen (SIGSTOP), answers at the timeout naming it, and lists its lag', async () => {
    const [a, b, frozen] = dps as [TestDataplane, TestDataplane, TestDataplane]
    const { key, secret } = await alice.client.me.issueKey('one frozen')
    await servedEverywhere(secret)
    frozen.process.kill('SIGSTOP')
    try {
      const started = Date.now()
      const { enforcement } = await alice.client.me.revokeKey(key.id, { wait: 'enforced', timeoutMs: 1_500 })
      const took = Date.now() - started
      assert.equal(enforcement?.status, 'timeout', JSON.stringify(enforcement))
      assert.ok(took >= 1_400 && took < 4_000, `answered after ${took} ms`)
      assert.equal(enforcement?.pending.length, 1)
      assert.ok(enforcement?.pending[0]?.startsWith(frozen.name), `pending names ${frozen.name}`)
      for (const dp of [a, b]) {
        assert.ok(enforcement?.enforced_by.some((label) => label.startsWith(dp.name)))
        assert.equal((await chat(dp.url, secret)).status, 401)
      }
      const { dataplanes } = await world.cp.admin.admin.listDataplanes()
      const lagging = dataplanes.find((d) => d.name === frozen.name)!
      assert.ok(lagging.lag_entries >= 1, JSON.stringify(lagging))
      assert.ok(lagging.lag_ms > 0)
      for (const dp of [a, b]) assert.equal(dataplanes.find((d) => d.name === dp.name)!.lag_entries, 0)
    } finally {
      frozen.process.kill('SIGCONT')
    }
    // Thawed, it applies the revocation it missed and catches up.
    await within(3_000, async () => (await chat(frozen.url, secret)).status === 401, 'the thawed one refuses')
    await within(
      3_000,
      async () =>
        (await world.cp.admin.admin.listDataplanes()).dataplanes.find((d) => d.name === frozen.name)!
          .lag_entries === 0,
      'the thawed one caught up',
    )
  })
})
