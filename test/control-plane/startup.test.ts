import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'

describe('control plane start-up', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane()
  })
  after(() => cp?.stop())

  it('writes the bootstrap admin and dataplane keys with mode 0600 and prints their paths, never the keys', () => {
    const file = join(cp.dataDir, 'bootstrap-admin.key')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal(cp.process.ready.bootstrap_admin_key_file, file)
    assert.match(cp.adminKey, /^ak-eyJ/)
    assert.ok(!cp.process.output().includes(cp.adminKey.slice(3)), 'the key itself must not be logged')
    const dataplaneFile = join(cp.dataDir, 'dataplane.key')
    assert.equal(statSync(dataplaneFile).mode & 0o777, 0o600)
    assert.equal(cp.process.ready.dataplane_key_file, dataplaneFile)
    assert.match(cp.dataplaneKey, /^ak-eyJ/)
    assert.ok(!cp.process.output().includes(cp.dataplaneKey.slice(3)), 'the dataplane key must not be logged')
  })

  it('keeps the generated root key and the database (with its WAL) readable by its owner only', () => {
    for (const name of ['root.key', 'agentrouter.db', 'agentrouter.db-wal', 'agentrouter.db-shm']) {
      assert.equal(statSync(join(cp.dataDir, name)).mode & 0o777, 0o600, name)
    }
    const rootKey = readFileSync(join(cp.dataDir, 'root.key'), 'utf8').trim()
    assert.ok(!cp.process.output().includes(rootKey), 'the root key must not be logged')
  })

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual(await (await fetch(`${cp.url}/healthz`)).json(), { status: 'ok' })
    const ready = await fetch(`${cp.url}/readyz`)
    assert.equal(ready.status, 200)
    assert.equal(((await ready.json()) as { ready: boolean }).ready, true)
  })

  it('publishes the JWKS with kid, alg, use and a max-age', async () => {
    const res = await fetch(`${cp.url}/.well-known/jwks.json`)
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/)
    const { keys } = (await res.json()) as { keys: Array<Record<string, string>> }
    assert.ok(keys.length >= 1)
    for (const k of keys) {
      assert.ok(k.kid)
      assert.equal(k.alg, 'RS256')
      assert.equal(k.use, 'sig')
      assert.equal(k.d, undefined, 'no private part')
    }
  })
})
