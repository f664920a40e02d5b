import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { freePort } from '../support/ports.ts'

describe('the development IdP behind AGENTROUTER_DEV_IDP_URL', () => {
  let cp: TestControlPlane
  let issuer: string

  before(async () => {
    const port = await freePort()
    issuer = `http://localhost:${port}`
    cp = await startControlPlane({
      AGENTROUTER_DEV_IDP_LISTEN: `127.0.0.1:${port}`,
      AGENTROUTER_DEV_IDP_URL: issuer,
    })
  })
  after(() => cp?.stop())

  it('names itself by that URL, and the whole login works through it', async () => {
    assert.equal(cp.devIdp, issuer)
    const user = await cp.login('container-user@example.com')
    const { identity } = await user.client.me.get()
    assert.equal(identity.issuer, issuer)
    assert.equal(identity.email, 'container-user@example.com')
  })
})
