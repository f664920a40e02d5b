/**
 * `tare` never hands the terminal a control sequence it got from the server. The API refuses such
 * names now, so they are planted straight into the database (what an older server, a restored
 * backup or a hand edit could leave behind): the tables and records print them as visible escapes,
 * `--json` prints them as `\u` escapes that parse back to the very same value, and no raw ESC,
 * C1 or bidirectional override reaches stdout.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type LoginResult, startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { withDatabase } from '../support/secrets-db.ts'
import { type TareEnv, tare } from '../support/tare.ts'

/** Clears the screen, sets the window title, 8-bit CSI, and a right-to-left override. */
const HOSTILE = 'evil\u001b[2J\u001b]0;pwned\u0007\u009b31m\u202Etxt.exe\u007f'
/** The same as tare must show it. */
const ESCAPED = 'evil\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u{202e}txt.exe\\x7f'

/** Anything a terminal would act on: C0 but newline, DEL, C1, the bidirectional controls. */
function rawControls(text: string): string[] {
  const found: string[] = []
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0
    const control = (code < 0x20 && ch !== '\n') || (code >= 0x7f && code <= 0x9f)
    const bidi = (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)
    if (control || bidi) found.push(`U+${code.toString(16).padStart(4, '0')}`)
  }
  return found
}

describe('tare escapes what it prints', () => {
  let cp: TestControlPlane
  let user: LoginResult
  let userEnv: TareEnv
  let adminEnv: TareEnv
  let keyId: string

  before(async () => {
    cp = await startControlPlane()
    user = await cp.login('escapes@example.com')
    const key = await user.client.me.issueKey('planted')
    keyId = key.key.id
    userEnv = { baseUrl: cp.url, apiKey: key.secret }
    adminEnv = { baseUrl: cp.url, apiKey: cp.adminKey }
    await user.client.aikeys.register('-', '-', 'openai', 'planted', 'sk-test-abcd')
    await cp.admin.secret.createSecret({ name: 'planted', value: 'v', tags: { env: 'prod' } })
    withDatabase(cp.dataDir, (db) => {
      db.prepare('UPDATE api_keys SET name = ? WHERE id = ?').run(HOSTILE, keyId)
      db.prepare('UPDATE ai_keys SET name = ? WHERE name = ?').run(HOSTILE, 'planted')
      db.prepare('UPDATE identities SET name = ? WHERE id = ?').run(HOSTILE, user.identityId)
      db.prepare("UPDATE secrets SET description = ?, tags = ? WHERE name = 'planted'").run(
        HOSTILE,
        JSON.stringify({ [HOSTILE]: HOSTILE }),
      )
    })
  })
  after(() => cp?.stop())

  const human: Array<[string, string[], () => TareEnv]> = [
    ['keys list (a table)', ['api', 'keys', 'list'], () => userEnv],
    ['byok list (a table)', ['api', 'byok', 'list'], () => userEnv],
    ['whoami (a record)', ['api', 'whoami'], () => userEnv],
    ['secret get (a record)', ['api', 'secret', 'get', 'planted'], () => adminEnv],
    ['secret list (a table)', ['api', 'secret', 'list'], () => adminEnv],
  ]
  for (const [what, args, env] of human) {
    it(`prints a planted name escaped: ${what}`, async () => {
      const r = await tare(args, env())
      assert.equal(r.code, 0, r.stderr)
      assert.deepEqual(rawControls(r.stdout), [], `no raw control character on stdout:\n${r.stdout}`)
      assert.ok(r.stdout.includes(ESCAPED), `the name shows as visible escapes:\n${r.stdout}`)
    })
  }

  it('prints --json with \\u escapes that parse back to exactly what the server sent', async () => {
    const r = await tare(['api', 'keys', 'list', '--json'], userEnv)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(rawControls(r.stdout), [], 'no raw control character, C1 or override in the JSON text')
    assert.match(r.stdout, /\\u009b31m\\u202etxt\.exe\\u007f/)
    const listed = JSON.parse(r.stdout) as { keys: Array<{ id: string; name: string }> }
    assert.equal(
      listed.keys.find((k) => k.id === keyId)?.name,
      HOSTILE,
      'the same value, escaped only in form',
    )
  })

  it('prints a secret value byte for byte: the one thing asked for raw', async () => {
    await cp.admin.secret.createSecret({ name: 'raw-value', value: 'line one\tcol\u00e9' })
    const r = await tare(['api', 'secret', 'secret-value', 'get', 'raw-value'], adminEnv)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, 'line one\tcol\u00e9\n')
  })
})
