/**
 * Crash safety: a control plane killed with SIGKILL in the middle of a stream of creates and
 * rotations reopens cleanly on the same data directory, and every write it acknowledged before
 * the kill is there, readable, with its value.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { withDatabase } from '../support/secrets-db.ts'

const WORKERS = 4
const SECRETS_PER_WORKER = 5
const ACKS_BEFORE_KILL = 120

interface Tracked {
  name: string
  /** Every value sent, in order (one request at a time per secret). */
  sent: string[]
  /** Index in `sent` of the last acknowledged write; -1 when none. */
  acked: number
  ackedVersion: number
}

describe('crash safety', () => {
  let cp: TestControlPlane | undefined
  after(() => cp?.stop())

  it('keeps every acknowledged create and rotation across a SIGKILL', async () => {
    cp = await startControlPlane()
    const first = cp
    const tracked: Tracked[] = []
    let acks = 0
    let killed = false
    let onEnoughAcks: () => void = () => {}
    const enoughAcks = new Promise<void>((resolve) => {
      onEnoughAcks = resolve
    })

    const worker = async (w: number) => {
      const mine = Array.from({ length: SECRETS_PER_WORKER }, (_, i) => {
        const t: Tracked = { name: `crash-${w}-${i}`, sent: [], acked: -1, ackedVersion: 0 }
        tracked.push(t)
        return t
      })
      for (let round = 0; !killed; round++) {
        const t = mine[round % mine.length]!
        const value = `${t.name}-value-${t.sent.length}`
        t.sent.push(value)
        try {
          const { secret } =
            t.acked < 0 || round % 3 === 0
              ? await first.admin.secret.createSecret({ name: t.name, realm: 'crash', value })
              : await first.admin.secret.rotateSecret({ name: t.name, realm: 'crash', newValue: value })
          t.acked = t.sent.length - 1
          t.ackedVersion = secret.version
          if (++acks === ACKS_BEFORE_KILL) onEnoughAcks()
        } catch {
          return // the control plane is gone
        }
      }
    }
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w))
    await enoughAcks
    first.process.kill('SIGKILL')
    killed = true
    await Promise.all(workers)
    await first.process.exited
    assert.ok(acks >= ACKS_BEFORE_KILL)

    cp = await startControlPlane({}, first.dataDir)
    const integrity = withDatabase(cp.dataDir, (db) => db.pragma('integrity_check', { simple: true }))
    assert.equal(integrity, 'ok')

    for (const t of tracked) {
      if (t.acked < 0) continue
      const { value, secret } = await cp.admin.secret.getSecretValue({ name: t.name, realm: 'crash' })
      // The acknowledged value, or the one whose request was in flight when the kill came.
      const position = t.sent.indexOf(value)
      assert.ok(position === t.acked || position === t.acked + 1, `${t.name}: ${value}, acked ${t.acked}`)
      assert.ok(secret.version >= t.ackedVersion, `${t.name}: version ${secret.version} < ${t.ackedVersion}`)
      assert.deepEqual(await cp.admin.secret.validateSecret({ name: t.name, realm: 'crash' }), {
        valid: true,
        error: '',
      })
    }
    const listed = await cp.admin.secret.listSecrets({ realm: 'crash', pageSize: 1000 })
    assert.ok(listed.secrets.length >= tracked.filter((t) => t.acked >= 0).length)
    await cp.admin.secret.createSecret({ name: 'after-restart', realm: 'crash', value: 'fine' })
    assert.equal(
      (await cp.admin.secret.getSecretValue({ name: 'after-restart', realm: 'crash' })).value,
      'fine',
    )
  })
})
