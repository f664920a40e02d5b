/**
 * The control plane's configuration: AGENTROUTER_ALLOWED_ORIGINS is a list of exact http(s)
 * origins, kept in the form browsers send in `Origin`; anything else stops start-up with a
 * message naming the variable. AGENTROUTER_DATABASE_URL selects PostgreSQL, which needs a root key
 * every replica shares.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { loadControlPlaneConfig } from '../../control-plane/config.ts'
import { ConfigError } from '../../shared/config.ts'
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

const ROOT_KEY = Buffer.alloc(32, 7).toString('base64')
const load = (vars: Record<string, string>) => loadControlPlaneConfig(vars)

describe('control plane configuration: the database', () => {
  it('uses SQLite in the data directory when no database URL is set', () => {
    assert.equal(load({}).databaseUrl, undefined)
  })

  it('takes a postgres:// URL when a root key is configured', () => {
    const url = 'postgres://agentrouter@db.internal:5432/agentrouter'
    assert.equal(load({ AGENTROUTER_DATABASE_URL: url, AGENTROUTER_ROOT_KEY: ROOT_KEY }).databaseUrl, url)
    assert.equal(
      load({ AGENTROUTER_DATABASE_URL: url, AGENTROUTER_ROOT_KEY_FILE: '/run/secrets/root.key' }).databaseUrl,
      url,
    )
  })

  it('refuses PostgreSQL without a configured root key, naming AGENTROUTER_ROOT_KEY_FILE', () => {
    assert.throws(
      () => load({ AGENTROUTER_DATABASE_URL: 'postgres://db/agentrouter' }),
      (err: unknown) =>
        err instanceof ConfigError && /^AGENTROUTER_ROOT_KEY_FILE: required/.test(err.message),
    )
  })

  it('refuses a database URL that is not postgres://, naming AGENTROUTER_DATABASE_URL', () => {
    for (const bad of ['mysql://db/x', 'not a url', 'sqlite:///tmp/x.db']) {
      assert.throws(
        () => load({ AGENTROUTER_DATABASE_URL: bad, AGENTROUTER_ROOT_KEY: ROOT_KEY }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith('AGENTROUTER_DATABASE_URL:'),
        bad,
      )
    }
  })
})

describe('control plane configuration: the revocation purge', () => {
  it('purges every 10 minutes with a 5-minute leeway by default, both durations with a unit', () => {
    assert.deepEqual(loadControlPlaneConfig({}).revocationPurge, { intervalMs: 600_000, leewayMs: 300_000 })
    assert.deepEqual(
      loadControlPlaneConfig({
        AGENTROUTER_REVOCATION_PURGE_INTERVAL: '30s',
        AGENTROUTER_REVOCATION_PURGE_LEEWAY: '1m',
      }).revocationPurge,
      { intervalMs: 30_000, leewayMs: 60_000 },
    )
  })

  it('refuses an interval of 0, past a day, or not a duration, naming the variable', () => {
    for (const [name, bad] of [
      ['AGENTROUTER_REVOCATION_PURGE_INTERVAL', '0s'],
      ['AGENTROUTER_REVOCATION_PURGE_INTERVAL', '2d'],
      ['AGENTROUTER_REVOCATION_PURGE_INTERVAL', 'often'],
      ['AGENTROUTER_REVOCATION_PURGE_LEEWAY', '-5m'],
    ] as const) {
      assert.throws(
        () => loadControlPlaneConfig({ [name]: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.startsWith(`${name}:`),
        `${name}=${bad}`,
      )
    }
  })
})
