/**
 * The control plane's configuration: AGENTROUTER_ALLOWED_ORIGINS is a list of exact http(s)
 * origins, kept in the form browsers send in `Origin`; anything else stops start-up with a
 * message naming the variable. AGENTROUTER_DATABASE_URL selects PostgreSQL, which needs a root key
 * every replica shares.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CONTROL_PLANE_VARIABLES, loadControlPlaneConfig } from '../../control-plane/config.ts'
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

/** `npm run control-plane` as a process, with `env` over a clean environment and `args` as flags. */
function runControlPlane(env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'control-plane/main.ts'), ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      AGENTROUTER_DATA_DIR: tempDir(),
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  })
}

/** The lines of stderr the component wrote itself (the IdP library warns about its own set-up). */
const ownLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('agentrouter '))

describe('control plane configuration: strict', () => {
  it('refuses a duration without a unit, naming the variable and showing it with one; 0 and units pass', () => {
    const run = runControlPlane({ AGENTROUTER_SESSION_TTL: '3600' })
    assert.equal(run.status, 2, run.stderr)
    assert.match(run.stderr, /AGENTROUTER_SESSION_TTL: "3600" has no unit: write it with one, e\.g\. 3600s/)
    assert.doesNotMatch(run.stdout, /listening/)
    assert.equal(load({ AGENTROUTER_SESSION_TTL: '90m' }).tokens.sessionTtlMs, 90 * 60_000)
    assert.equal(load({ AGENTROUTER_SIGNING_KEY_PUBLISH_DELAY: '0' }).tokens.signingKeyPublishDelayMs, 0)
    assert.equal(load({ AGENTROUTER_ENFORCE_TIMEOUT: '1500ms' }).enforceTimeoutMs, 1500)
  })

  it('refuses an unknown AGENTROUTER_* variable, naming it and the closest known name', () => {
    const run = runControlPlane({ AGENTROUTER_SESION_TTL: '12h' })
    assert.equal(run.status, 2, run.stderr)
    assert.match(
      run.stderr,
      /AGENTROUTER_SESION_TTL: unknown variable: did you mean AGENTROUTER_SESSION_TTL\?/,
    )
    assert.throws(
      () => load({ AGENTROUTER_NOTHING_LIKE_ANYTHING_ELSE: 'x' }),
      /AGENTROUTER_NOTHING_LIKE_ANYTHING_ELSE: unknown variable: see --help/,
    )
  })

  it('refuses an unknown --flag or one without a value, naming it as written and the closest flag', () => {
    const run = runControlPlane({}, ['--cp-listn=127.0.0.1:0', '--log-level', 'debug'])
    assert.equal(run.status, 2, run.stderr)
    assert.match(run.stderr, /--cp-listn: unknown flag: did you mean --cp-listen\?/)
    assert.match(run.stderr, /--log-level: expected --name=value/)
    assert.match(run.stderr, /debug: expected --name=value/)
  })

  it('refuses an unknown key of the config file, naming the key, the file and the closest name', () => {
    const file = join(tempDir(), 'agentrouter.json')
    writeFileSync(file, JSON.stringify({ AGENTROUTER_LOG_LEVEL: 'debug', AGENTROUTER_ADMIN_EMAIL: 'a@b.c' }))
    const run = runControlPlane({ AGENTROUTER_CONFIG_FILE: file })
    assert.equal(run.status, 2, run.stderr)
    assert.ok(
      run.stderr.includes(
        `key "AGENTROUTER_ADMIN_EMAIL" of ${file}: unknown key: did you mean AGENTROUTER_ADMIN_EMAILS?`,
      ),
      run.stderr,
    )
  })

  it('reports every mistake at once, one per line, not the first only', () => {
    const run = runControlPlane(
      {
        AGENTROUTER_SESSION_TTL: '3600',
        AGENTROUTER_LOG_LEVEL: 'loud',
        AGENTROUTER_ALLOWED_ORIGINS: 'https://*.example.com',
        AGENTROUTER_CP_LISTN: '127.0.0.1:0',
      },
      ['--body-limit-bytes=tiny'],
    )
    assert.equal(run.status, 2, run.stderr)
    const lines = ownLines(run.stderr)
    assert.deepEqual(lines, ['agentrouter control plane: bad configuration (5 problems):'])
    for (const problem of [
      /^ {2}AGENTROUTER_SESSION_TTL: "3600" has no unit/m,
      /^ {2}AGENTROUTER_LOG_LEVEL: expected debug, info, warn or error, got "loud"$/m,
      /^ {2}AGENTROUTER_ALLOWED_ORIGINS: "https:\/\/\*\.example\.com": wildcards/m,
      /^ {2}AGENTROUTER_CP_LISTN: unknown variable: did you mean AGENTROUTER_CP_LISTEN\?$/m,
      /^ {2}AGENTROUTER_BODY_LIMIT_BYTES: expected an integer/m,
    ])
      assert.match(run.stderr, problem)
  })

  it("accepts the dataplane's variables, tare's and the test suite's: one environment serves all (npm start)", () => {
    const config = load({
      AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DATAPLANE_KEY: 'ak-x.y.z',
      AGENTROUTER_CONTROL_PLANE_URL: 'http://127.0.0.1:8080',
      AGENTROUTER_BASE_URL: 'http://127.0.0.1:8080',
      AGENTROUTER_API_KEY: 'ak-x.y.z',
      AGENTROUTER_KEY: 'ak-x.y.z',
      AGENTROUTER_TEST_ENGINE: 'sqlite',
      AGENTROUTER_TEST_ANYTHING_NEW: '1',
      // Not ours at all: never looked at.
      PATH: '/usr/bin',
    })
    assert.equal(config.listen.port, 8080)
  })

  it('--help prints every variable with its default, and exits 0 without starting', () => {
    const run = runControlPlane({}, ['--help'])
    assert.equal(run.status, 0, run.stderr)
    for (const name of Object.keys(CONTROL_PLANE_VARIABLES))
      assert.match(run.stdout, new RegExp(`^ {2}${name} +\\S`, 'm'), name)
    assert.match(run.stdout, /^ {2}AGENTROUTER_SESSION_TTL +session lifetime \(default 12h\)$/m)
    assert.match(run.stdout, /^ {2}AGENTROUTER_ADMIN_EMAILS +.*\(default: none\)$/m)
    assert.doesNotMatch(run.stdout, /listening/)
  })

  it('npm start --help lists the variables of both components, and starts nothing', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'scripts/start.ts'), '--help'],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    assert.equal(run.status, 0, run.stderr)
    assert.match(
      run.stdout,
      /^ {2}AGENTROUTER_CP_LISTEN +address to listen on \(default 127\.0\.0\.1:8080\)$/m,
    )
    assert.match(
      run.stdout,
      /^ {2}AGENTROUTER_DP_LISTEN +address to listen on \(default 127\.0\.0\.1:8081\)$/m,
    )
    assert.doesNotMatch(run.stdout, /listening/)
  })

  it('a port in use is one line naming the variable that set it, no stack trace, exit 1', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as AddressInfo
    try {
      for (const variable of ['AGENTROUTER_CP_LISTEN', 'AGENTROUTER_DEV_IDP_LISTEN']) {
        const run = runControlPlane({ [variable]: `127.0.0.1:${port}` })
        assert.equal(run.status, 1, run.stderr)
        assert.deepEqual(ownLines(run.stderr), [
          `agentrouter control plane: cannot listen on 127.0.0.1:${port} (${variable}): the address is already in use`,
        ])
        assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace')
      }
    } finally {
      holder.close()
    }
  })

  it('npm start with a port in use: one line that also says another instance may be running', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as AddressInfo
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/start.ts')], {
        cwd: REPO_ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          AGENTROUTER_DATA_DIR: tempDir(),
          AGENTROUTER_CP_LISTEN: `127.0.0.1:${port}`,
          AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
          AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
        },
        encoding: 'utf8',
        timeout: 60_000,
      })
      assert.equal(run.status, 1, run.stderr)
      assert.deepEqual(ownLines(run.stderr), [
        `agentrouter control plane: cannot listen on 127.0.0.1:${port} (AGENTROUTER_CP_LISTEN): the address is already in use: another instance (npm start) may be running`,
      ])
      assert.doesNotMatch(run.stderr, /^\s+at |Error:/m, 'no stack trace')
      assert.doesNotMatch(run.stdout, /dataplane listening/)
    } finally {
      holder.close()
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
