/**
 * The control plane's configuration: AGENTROUTER_ALLOWED_ORIGINS is a list of exact http(s)
 * origins, kept in the form browsers send in `Origin`; anything else stops start-up with a
 * message naming the variable.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadControlPlaneConfig } from '../../control-plane/config.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

describe('control plane configuration: AGENTROUTER_ALLOWED_ORIGINS', () => {
  it('defaults to none, and keeps each origin as a browser serialises it', () => {
    assert.deepEqual(loadControlPlaneConfig({}).allowedOrigins, [])
    const config = loadControlPlaneConfig({
      AGENTROUTER_ALLOWED_ORIGINS: 'https://Dashboard.Example.com/, http://127.0.0.1:3000 ,http://a.test:80',
    })
    assert.deepEqual(config.allowedOrigins, [
      'https://dashboard.example.com',
      'http://127.0.0.1:3000',
      'http://a.test',
    ])
  })

  it('refuses anything but an exact http(s) origin, naming the variable and the entry', () => {
    for (const bad of [
      '*',
      'null',
      'dashboard.example.com',
      'ftp://files.example.com',
      'https://*.example.com',
      'https://example.com/app',
      'https://example.com?x=1',
      'https://example.com#top',
      'https://user:pass@example.com',
      'https://ok.example.com,https://example.com/path',
    ]) {
      assert.throws(
        () => loadControlPlaneConfig({ AGENTROUTER_ALLOWED_ORIGINS: bad }),
        (err: Error) => err.message.startsWith('AGENTROUTER_ALLOWED_ORIGINS: "'),
        bad,
      )
    }
  })

  it('stops start-up on a bad value: exit 2, the variable named, nothing listening', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'control-plane/main.ts')], {
      env: {
        ...process.env,
        AGENTROUTER_DATA_DIR: tempDir(),
        AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
        AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
        AGENTROUTER_ALLOWED_ORIGINS: 'https://evil.example/*',
      },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(run.status, 2, run.stderr)
    assert.match(run.stderr, /AGENTROUTER_ALLOWED_ORIGINS: "https:\/\/evil\.example\/\*"/)
    assert.doesNotMatch(run.stdout, /listening/)
  })
})
