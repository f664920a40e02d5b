import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DATAPLANE_VARIABLES, loadDataplaneConfig } from '../../dataplane/config.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

const KEY = 'ak-eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourcesUnder(path) : path.endsWith('.ts') ? [path] : []
  })
}

describe('dataplane configuration', () => {
  it('has defaults for everything but the key', () => {
    const config = loadDataplaneConfig({ AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DATA_DIR: '/tmp/x' })
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8081 })
    assert.equal(config.controlPlane.url, 'http://127.0.0.1:8080')
    assert.equal(config.upstreams.openai, 'https://api.openai.com')
    assert.equal(config.upstreams.anthropic, 'https://api.anthropic.com')
    assert.equal(config.sync.maxStalenessMs, 3_600_000)
    assert.equal(config.sync.pruneIntervalMs, 600_000)
    assert.equal(config.stateDir, '/tmp/x/dataplane')
    assert.deepEqual(config.clients, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 300_000,
      maxBufferedBytes: 256 * 1024 * 1024,
    })
  })

  it('takes one control plane URL or a comma-separated list of them, in order, each checked', () => {
    const base = { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DATA_DIR: '/tmp/x' }
    const one = loadDataplaneConfig({
      ...base,
      AGENTROUTER_CONTROL_PLANE_URL: 'http://cp:8080/',
    }).controlPlane
    assert.deepEqual([one.url, one.urls], ['http://cp:8080', ['http://cp:8080']])
    const several = loadDataplaneConfig({
      ...base,
      AGENTROUTER_CONTROL_PLANE_URL: 'http://cp-a:8080, https://cp-b ,http://10.0.0.3:8080',
    }).controlPlane
    assert.deepEqual(several.urls, ['http://cp-a:8080', 'https://cp-b', 'http://10.0.0.3:8080'])
    assert.equal(several.url, 'http://cp-a:8080')
    for (const bad of ['http://a,', 'http://a,,http://b', 'http://a,ftp://b', 'http://a,http://a/']) {
      assert.throws(
        () => loadDataplaneConfig({ ...base, AGENTROUTER_CONTROL_PLANE_URL: bad }),
        /AGENTROUTER_CONTROL_PLANE_URL/,
        bad,
      )
    }
  })

  it('reads the client limits: timeouts as durations, the buffered bound as bytes', () => {
    const config = loadDataplaneConfig({
      AGENTROUTER_DATAPLANE_KEY: KEY,
      AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: '1s',
      AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: '2500ms',
      AGENTROUTER_DP_BODY_LIMIT_BYTES: '1048576',
      AGENTROUTER_DP_MAX_BUFFERED_BYTES: '67108864',
    })
    assert.deepEqual(config.clients, {
      headersTimeoutMs: 1_000,
      requestTimeoutMs: 2_500,
      maxBufferedBytes: 64 * 1024 * 1024,
    })
    // The default bound is never below one largest body.
    const big = loadDataplaneConfig({
      AGENTROUTER_DATAPLANE_KEY: KEY,
      AGENTROUTER_DP_BODY_LIMIT_BYTES: String(1024 ** 3),
    })
    assert.equal(big.clients.maxBufferedBytes, 1024 ** 3)
  })

  it('stops on a bad or missing value, naming the variable', () => {
    const dataDir = tempDir()
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'AGENTROUTER_DATAPLANE_KEY'],
      [{ AGENTROUTER_DATAPLANE_KEY: 'not a key' }, 'AGENTROUTER_DATAPLANE_KEY'],
      [{ AGENTROUTER_DATAPLANE_KEY_FILE: join(dataDir, 'missing.key') }, 'AGENTROUTER_DATAPLANE_KEY_FILE'],
      [{ AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_LISTEN: 'nowhere' }, 'AGENTROUTER_DP_LISTEN'],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_UPSTREAM_OPENAI: 'ftp://x' },
        'AGENTROUTER_UPSTREAM_OPENAI',
      ],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_MAX_STALENESS: 'soon' },
        'AGENTROUTER_DP_MAX_STALENESS',
      ],
      [{ AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_CLOCK_LEEWAY: '1h' }, 'AGENTROUTER_DP_CLOCK_LEEWAY'],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_BYOK_CACHE_SIZE: '0' },
        'AGENTROUTER_DP_BYOK_CACHE_SIZE',
      ],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: '0' },
        'AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT',
      ],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: 'soon' },
        'AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT',
      ],
      [
        // Node refuses a headers timeout longer than the request timeout.
        {
          AGENTROUTER_DATAPLANE_KEY: KEY,
          AGENTROUTER_DP_CLIENT_HEADERS_TIMEOUT: '20s',
          AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT: '10s',
        },
        'AGENTROUTER_DP_CLIENT_REQUEST_TIMEOUT',
      ],
      [
        // Below one largest body, a request the per-request limit allows could never be admitted.
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_MAX_BUFFERED_BYTES: String(16 * 1024 * 1024) },
        'AGENTROUTER_DP_MAX_BUFFERED_BYTES',
      ],
      [
        { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_MAX_BUFFERED_BYTES: '64MiB' },
        'AGENTROUTER_DP_MAX_BUFFERED_BYTES',
      ],
    ]
    for (const [vars, variable] of cases) {
      assert.throws(
        () => loadDataplaneConfig({ AGENTROUTER_DATA_DIR: dataDir, ...vars }),
        (err: Error) => err.message.startsWith(`${variable}:`),
      )
    }
  })

  it('reads the key from AGENTROUTER_DATAPLANE_KEY_FILE, and the variable itself wins over the file', () => {
    const dataDir = tempDir()
    const file = join(dataDir, 'elsewhere.key')
    writeFileSync(file, `${KEY}x\n`)
    assert.equal(
      loadDataplaneConfig({ AGENTROUTER_DATA_DIR: dataDir, AGENTROUTER_DATAPLANE_KEY_FILE: file })
        .controlPlane.key,
      `${KEY}x`,
    )
    const both = {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_DATAPLANE_KEY_FILE: file,
      AGENTROUTER_DATAPLANE_KEY: KEY,
    }
    assert.equal(loadDataplaneConfig(both).controlPlane.key, KEY)
  })

  it('reads the key from the data directory when no variable names it', () => {
    const dataDir = tempDir()
    writeFileSync(join(dataDir, 'dataplane.key'), `${KEY}\n`)
    assert.equal(loadDataplaneConfig({ AGENTROUTER_DATA_DIR: dataDir }).controlPlane.key, KEY)
  })

  it('AGENTROUTER_DP_EXTRA_PATHS: provider:prefix entries, checked, none by default', () => {
    const base = { AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DATA_DIR: '/tmp/x' }
    assert.deepEqual(loadDataplaneConfig(base).proxy.extraPaths, [])
    assert.deepEqual(
      loadDataplaneConfig({
        ...base,
        AGENTROUTER_DP_EXTRA_PATHS:
          ' openai:fine_tuning , anthropic:/v1/organizations/usage_report/messages,,',
      }).proxy.extraPaths,
      [
        { provider: 'openai', prefix: 'fine_tuning' },
        { provider: 'anthropic', prefix: 'organizations/usage_report/messages' },
      ],
    )
    for (const bad of [
      'fine_tuning',
      'mistral:chat',
      'openai:',
      'openai:a/../b',
      'openai:a//b',
      'openai:a/',
      'openai:%2e',
      'openai:a\\b',
    ]) {
      assert.throws(
        () => loadDataplaneConfig({ ...base, AGENTROUTER_DP_EXTRA_PATHS: bad }),
        (err: Error) => err.message.startsWith('AGENTROUTER_DP_EXTRA_PATHS:'),
        bad,
      )
    }
  })

  it('DATAPLANE_VARIABLES lists every variable the dataplane reads', () => {
    const read = new Set<string>()
    for (const file of sourcesUnder(join(REPO_ROOT, 'dataplane'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:'|vars\.)(AGENTROUTER_[A-Z_]+)/g))
        read.add(m[1]!)
    }
    read.add('AGENTROUTER_CONFIG_FILE') // read by shared/config.ts collectVars
    read.add('AGENTROUTER_LOG_LEVEL') // read by shared/config.ts logLevel
    assert.deepEqual([...read].sort(), Object.keys(DATAPLANE_VARIABLES).sort())
  })

  it('the process exits at start with a message naming the variable', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'dataplane/main.ts')], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, AGENTROUTER_DATA_DIR: tempDir(), AGENTROUTER_DP_LISTEN: 'bogus' },
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(run.status, 2)
    assert.match(run.stderr, /AGENTROUTER_DATAPLANE_KEY|AGENTROUTER_DP_LISTEN/)
  })
})

function runDataplane(env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'dataplane/main.ts'), ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      AGENTROUTER_DATA_DIR: tempDir(),
      AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DATAPLANE_KEY: KEY,
      // Nothing listens there: the dataplane starts from its (empty) snapshot and keeps retrying.
      AGENTROUTER_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  })
}

const ownLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('agentrouter '))

describe('dataplane configuration: strict', () => {
  it('refuses a duration without a unit, naming the variable and showing it with one', () => {
    const run = runDataplane({ AGENTROUTER_DP_POLL_INTERVAL: '30' })
    assert.equal(run.status, 2, run.stderr)
    assert.match(run.stderr, /AGENTROUTER_DP_POLL_INTERVAL: "30" has no unit: write it with one, e\.g\. 30s/)
    assert.equal(
      loadDataplaneConfig({ AGENTROUTER_DATAPLANE_KEY: KEY, AGENTROUTER_DP_MAX_STALENESS: '0' }).sync
        .maxStalenessMs,
      0,
    )
  })

  it('refuses unknown variables and flags with the closest names, every mistake at once', () => {
    const run = runDataplane({ AGENTROUTER_DP_LISEN: '127.0.0.1:0', AGENTROUTER_DP_CLOCK_LEEWAY: '10m' }, [
      '--upstream-opena=https://api.openai.com',
    ])
    assert.equal(run.status, 2, run.stderr)
    assert.deepEqual(ownLines(run.stderr), ['agentrouter dataplane: bad configuration (3 problems):'])
    assert.match(
      run.stderr,
      /^ {2}AGENTROUTER_DP_LISEN: unknown variable: did you mean AGENTROUTER_DP_LISTEN\?$/m,
    )
    assert.match(run.stderr, /^ {2}--upstream-opena: unknown flag: did you mean --upstream-openai\?$/m)
    assert.match(run.stderr, /^ {2}AGENTROUTER_DP_CLOCK_LEEWAY: must be at most 5m$/m)
  })

  it("accepts the control plane's variables and the test suite's (one environment for both)", () => {
    const config = loadDataplaneConfig({
      AGENTROUTER_DATAPLANE_KEY: KEY,
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_SESSION_TTL: '12h',
      AGENTROUTER_OIDC_ISSUERS: '[]',
      AGENTROUTER_TEST_ENGINE: 'postgres',
    })
    assert.equal(config.listen.port, 8081)
  })

  it('--help prints every variable with its default, and exits 0', () => {
    const run = runDataplane({}, ['--help'])
    assert.equal(run.status, 0, run.stderr)
    for (const name of Object.keys(DATAPLANE_VARIABLES))
      assert.match(run.stdout, new RegExp(`^ {2}${name} +\\S`, 'm'), name)
    assert.match(
      run.stdout,
      /^ {2}AGENTROUTER_DP_LISTEN +address to listen on \(default 127\.0\.0\.1:8081\)$/m,
    )
  })

  it('a port in use is one line naming AGENTROUTER_DP_LISTEN, no stack trace', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    const { port } = holder.address() as AddressInfo
    try {
      const run = runDataplane({ AGENTROUTER_DP_LISTEN: `127.0.0.1:${port}` })
      assert.equal(run.status, 1, run.stderr)
      assert.deepEqual(ownLines(run.stderr), [
        `agentrouter dataplane: cannot listen on 127.0.0.1:${port} (AGENTROUTER_DP_LISTEN): the address is already in use`,
      ])
      assert.doesNotMatch(run.stderr, /^\s+at /m)
    } finally {
      holder.close()
    }
  })
})
