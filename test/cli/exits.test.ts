/**
 * `tare` exits that a script can trust, through the real binary against a real control plane and
 * dataplane: `--wait` exits 0 only when every dataplane enforced the revocation and 3 (naming the
 * laggard) when one is frozen, `--json` errors are JSON on stderr, an unknown command or flag comes
 * with the closest known one, `logout` without a session is not a failure, and an API error's
 * field is printed once.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ErrorBody } from '../../shared/errors.ts'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../support/dataplane.ts'
import { within } from '../support/inference.ts'
import { type TareEnv, tare } from '../support/tare.ts'

describe('tare exit statuses', () => {
  let cp: TestControlPlane
  let dp: TestDataplane
  let user: LoginResult
  let asUser: TareEnv
  let asAdmin: TareEnv

  before(async () => {
    cp = await startControlPlane()
    dp = await startDataplane({ controlPlaneUrl: cp.url, dataplaneKey: cp.dataplaneKey })
    user = await cp.login('exits@example.com')
    asUser = { baseUrl: cp.url, apiKey: user.sessionToken }
    asAdmin = { baseUrl: cp.url, apiKey: cp.adminKey }
    await within(
      15_000,
      async () => (await cp.admin.admin.listDataplanes()).dataplanes.some((d) => d.name === dp.name),
      'the dataplane is connected',
    )
  })
  after(async () => {
    await dp?.stop()
    await cp?.stop()
  })

  describe('--wait', () => {
    it('exits 0 when every dataplane enforced the revocation, and names them', async () => {
      const { key } = await user.client.me.issueKey('enforced')
      const r = await tare(['api', 'keys', 'revoke', key.id, '--wait', '--wait-timeout', '10s'], asUser)
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /^enforcement: enforced after \d+ ms by 1 dataplane\(s\)$/m)
      assert.equal(r.stderr, '')
    })

    it('with the dataplane frozen (SIGSTOP), every revoke command exits 3 naming it, and the revocation still happened', async () => {
      const keys = await Promise.all([
        user.client.me.issueKey('frozen-keys'),
        user.client.me.issueKey('frozen-json'),
        cp.admin.admin.issueKey({ name: 'frozen-admin', type: 'KEY_TYPE_ADMIN' }),
      ])
      const aiKey = await user.client.aikeys.register('-', '-', 'openai', 'frozen-byok', 'sk-frozen-0001')
      const other = await cp.login('exits@example.com')
      const wait = ['--wait', '--wait-timeout', '1s']
      dp.process.kill('SIGSTOP')
      try {
        const human = await tare(['api', 'keys', 'revoke', keys[0].key.id, ...wait], asUser)
        assert.equal(human.code, 3, human.stderr)
        assert.match(human.stdout, /^enforcement: timeout after \d+ ms by 0 dataplane\(s\); not yet: /m)
        assert.ok(human.stdout.includes(dp.name), 'stdout names the laggard')
        assert.match(human.stderr, /^error: deadline_exceeded: not every dataplane enforced the revocation/m)
        assert.match(human.stderr, new RegExp(`^ {2}pending: ${dp.name} \\(`, 'm'))

        const json = await tare(['api', 'keys', 'revoke', keys[1].key.id, ...wait, '--json'], asUser)
        assert.equal(json.code, 3, json.stderr)
        const response = JSON.parse(json.stdout) as { enforcement: { status: string; pending: string[] } }
        assert.equal(response.enforcement.status, 'timeout')
        assert.ok(response.enforcement.pending[0]?.startsWith(dp.name))
        const error = JSON.parse(json.stderr) as ErrorBody
        assert.equal(error.code, 'deadline_exceeded')
        assert.ok(error.details.some((d) => d.field === 'pending' && d.description.startsWith(dp.name)))

        const admin = await tare(['api', 'admin', 'keys', 'revoke', keys[2].key.id, ...wait], asAdmin)
        assert.equal(admin.code, 3, admin.stderr)
        assert.ok(admin.stderr.includes(dp.name))

        const byok = await tare(['api', 'byok', 'remove', aiKey.key.id, ...wait], asUser)
        assert.equal(byok.code, 3, byok.stderr)
        assert.ok(byok.stderr.includes(dp.name))

        const logout = await tare(['api', 'logout', ...wait], { baseUrl: cp.url, apiKey: other.sessionToken })
        assert.equal(logout.code, 3, logout.stderr)
        assert.ok(logout.stderr.includes(dp.name))
      } finally {
        dp.process.kill('SIGCONT')
      }
      const { keys: mine } = await user.client.me.listKeys()
      for (const { key } of keys.slice(0, 2)) {
        assert.equal(mine.find((k) => k.id === key.id)?.state, 'KEY_STATE_REVOKED', `${key.name} is revoked`)
      }
      await assert.rejects(cp.client(keys[2].secret).me.get(), { code: 'unauthenticated' })
      assert.ok((await user.client.aikeys.get('-', '-', aiKey.key.id)).key.revoked_at)
      await assert.rejects(other.client.me.get(), { code: 'unauthenticated' })
    })

    it('--wait-timeout takes a duration with a unit, within what the control plane accepts', async () => {
      for (const [value, code] of [
        ['5000', 2],
        ['61s', 2],
        ['0ms', 2],
      ] as const) {
        const r = await tare(['api', 'keys', 'revoke', 'key_x', '--wait', '--wait-timeout', value], asUser)
        assert.equal(r.code, code, `${value}: ${r.stderr}`)
        assert.match(r.stderr, /--wait-timeout expects a duration with a unit/)
      }
      const alone = await tare(['api', 'keys', 'revoke', 'key_x', '--wait-timeout', '5s'], asUser)
      assert.equal(alone.code, 2)
      assert.match(alone.stderr, /--wait-timeout needs --wait/)
    })
  })

  describe('--json errors', () => {
    it('an API error is one line of the contract’s error object on stderr, exit 1', async () => {
      const r = await tare(['api', 'keys', 'revoke', 'key_nope', '--json'], asUser)
      assert.equal(r.code, 1)
      assert.equal(r.stdout, '')
      const error = JSON.parse(r.stderr) as ErrorBody
      assert.equal(error.code, 'invalid_argument')
      assert.equal(error.message, 'key_id: must be key_<ulid>')
      assert.deepEqual(error.details, [{ field: 'key_id', description: 'must be key_<ulid>' }])
    })

    it('unauthenticated carries the hint as a field, exit 1', async () => {
      const r = await tare(['api', 'whoami', '--json'], { baseUrl: cp.url })
      assert.equal(r.code, 1)
      const error = JSON.parse(r.stderr) as ErrorBody & { hint?: string }
      assert.equal(error.code, 'unauthenticated')
      assert.match(error.hint ?? '', /not logged in/)
    })

    it('a usage error is JSON too, exit 2', async () => {
      for (const args of [
        ['api', 'keys', 'create', '--json'],
        ['api', 'kyes', 'list', '--json'],
        ['api', '--json'],
      ]) {
        const r = await tare(args, asUser)
        assert.equal(r.code, 2, r.stderr)
        const error = JSON.parse(r.stderr) as ErrorBody
        assert.equal(error.code, 'invalid_argument')
        assert.match(error.message, /^tare api/)
      }
    })
  })

  describe('usage', () => {
    it('an unknown command suggests the closest one, exit 2', async () => {
      for (const [args, meant] of [
        [['api', 'kyes', 'list'], 'tare api keys list'],
        [['api', 'admin', 'key', 'revoke', 'key_x'], 'tare api admin keys revoke'],
        [['keys', 'list'], 'tare api keys list'],
        [['api', 'revoke'], 'tare api keys revoke'],
      ] as const) {
        const r = await tare([...args], asUser)
        assert.equal(r.code, 2, r.stderr)
        assert.ok(r.stderr.includes(`Did you mean "${meant}"?`), `${args.join(' ')}: ${r.stderr}`)
      }
      const far = await tare(['api', 'zzzzzz'], asUser)
      assert.equal(far.code, 2)
      assert.doesNotMatch(far.stderr, /Did you mean/)
    })

    it('an unknown flag suggests the closest one, exit 2', async () => {
      const r = await tare(['api', 'keys', 'create', '--nme', 'x'], asUser)
      assert.equal(r.code, 2)
      assert.match(r.stderr, /unknown option --nme\nDid you mean "--name"\?/)
    })

    it('logout without any session exits 0 with a note on stderr', async () => {
      const r = await tare(['api', 'logout'], { baseUrl: cp.url })
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^Not logged in: /)
      const json = await tare(['api', 'logout', '--json'], { baseUrl: cp.url })
      assert.equal(json.code, 0)
      assert.deepEqual(JSON.parse(json.stdout), {})
    })

    it('an API error prints its field once', async () => {
      const r = await tare(['api', 'keys', 'revoke', 'key_nope'], asUser)
      assert.equal(r.code, 1)
      assert.equal(r.stderr, 'error: invalid_argument: key_id: must be key_<ulid>\n')
    })
  })
})
