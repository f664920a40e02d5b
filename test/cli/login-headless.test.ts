/**
 * `tare api login --no-browser` on a machine the browser cannot reach: the person signs in
 * elsewhere, the browser's redirect to 127.0.0.1 never loads, and the address it ended on is
 * pasted into tare's standard input. Garbage and other logins' addresses are refused with a
 * message while the login keeps waiting; a matching address completes it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { GetMeResponse } from '../../shared/client/index.ts'
import { Browser } from '../support/browser.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { tempDir } from '../support/process.ts'
import { type RunningTare, startTare, type TareEnv, tareJson } from '../support/tare.ts'

/** Starts `tare api login --no-browser` with stdin open; resolves once it prints the URL. */
async function startHeadless(env: TareEnv) {
  const running = startTare(['api', 'login', '--no-browser', '--timeout', '120'], env, { open: true })
  const [authorizationUrl] = await running.waitFor(/http:\/\/\S+\/auth\?\S+/)
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? ''
  return { running, authorizationUrl, redirectUri }
}

/** Signs in through the IdP's pages and answers the address the browser would end on, unloaded. */
async function endedOn(authorizationUrl: string, redirectUri: string, login: string): Promise<string> {
  const { code, state } = await new Browser().authorize(authorizationUrl, redirectUri, login)
  return `${redirectUri}?${new URLSearchParams({ code, state, iss: 'ignored-by-tare' })}`
}

function paste(running: RunningTare, text: string): void {
  running.child.stdin!.write(`${text}\n`)
}

describe('tare api login --no-browser: the address pasted on standard input', () => {
  let cp: TestControlPlane
  before(async () => {
    cp = await startControlPlane()
  })
  after(() => cp?.stop())

  it('completes the login from the pasted address without the redirect ever loading; whoami works after', async () => {
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-headless-') }
    const { running, authorizationUrl, redirectUri } = await startHeadless(env)
    await running.waitFor(/paste here the address it ended on/)
    paste(running, await endedOn(authorizationUrl, redirectUri, 'remote@example.com'))
    const result = await running.done
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /Logged in as remote@example\.com/)
    const me = await tareJson<GetMeResponse>(['api', 'whoami'], env)
    assert.equal(me.identity.email, 'remote@example.com')
  })

  it('garbage on stdin is refused with a message, no crash, and the login still completes after', async () => {
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-headless-') }
    const { running, authorizationUrl, redirectUri } = await startHeadless(env)
    paste(running, 'not a url at all \u0007')
    await running.waitFor(/that address was refused: Not an address: paste the whole address/)
    paste(running, 'https://example.com/callback?code=x&state=y')
    await running.waitFor(/that address was refused: Not this login's redirect/)
    paste(running, redirectUri)
    await running.waitFor(/carries no code and state/)
    assert.equal(running.child.exitCode, null, 'still running')
    paste(running, await endedOn(authorizationUrl, redirectUri, 'patient@example.com'))
    const result = await running.done
    assert.equal(result.code, 0, result.stderr)
    assert.doesNotMatch(result.stderr, /internal|at .*\.ts:\d+/, 'no stack trace')
    assert.equal(
      (await tareJson<GetMeResponse>(['api', 'whoami'], env)).identity.email,
      'patient@example.com',
    )
  })

  it("another login's address (its state does not match) is refused and its code is not redeemed", async () => {
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-headless-') }
    const other = await startHeadless({ baseUrl: cp.url, configHome: tempDir('tare-other-') })
    const mine = await startHeadless(env)
    // The other login's redirect, pointed at this listener: its state is not this login's.
    const foreign = new URL(await endedOn(other.authorizationUrl, other.redirectUri, 'mallory@example.com'))
    const forged = `${mine.redirectUri}${foreign.search}`
    paste(mine.running, forged)
    await mine.running.waitFor(/that address was refused: The state does not match the login in progress/)
    assert.equal(mine.running.child.exitCode, null, 'still waiting')
    // Not redeemed: the other login can still complete with it.
    paste(other.running, `${other.redirectUri}${foreign.search}`)
    const otherResult = await other.running.done
    assert.equal(otherResult.code, 0, otherResult.stderr)

    paste(mine.running, await endedOn(mine.authorizationUrl, mine.redirectUri, 'victim@example.com'))
    const result = await mine.running.done
    assert.equal(result.code, 0, result.stderr)
    assert.equal((await tareJson<GetMeResponse>(['api', 'whoami'], env)).identity.email, 'victim@example.com')
  })

  it('the loopback listener still answers meanwhile: a local browser completes the login first', async () => {
    const env: TareEnv = { baseUrl: cp.url, configHome: tempDir('tare-headless-') }
    const { running, authorizationUrl, redirectUri } = await startHeadless(env)
    const landing = await new Browser().request(
      await endedOn(authorizationUrl, redirectUri, 'local@example.com'),
    )
    assert.equal(landing.status, 200)
    const result = await running.done
    assert.equal(result.code, 0, result.stderr)
    assert.equal((await tareJson<GetMeResponse>(['api', 'whoami'], env)).identity.email, 'local@example.com')
  })
})
