/**
 * The package as another project gets it: `npm pack` (which builds `dist/` through `prepack`), a
 * consumer project in a temporary directory that installs the tarball, type-checks a file using
 * the client with its own `tsc` under both `moduleResolution: "nodenext"` and `"bundler"` (strict,
 * `exactOptionalPropertyTypes`), and runs the output with plain `node` (no tsx) against a running
 * control plane; the seeds' TypeScript examples are type-checked and run the same way, with only
 * their import line changed. One pack and one install, shared by every assertion.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { seedEndpoints } from '../support/documents.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const SEED_IMPORT = /^import \{ Client \} from '@tetrate\/agentrouter-sdk'$/m
const OUR_IMPORT = "import { Client } from 'agentrouter'"

/** Packing builds with tsc and installing resolves ~100 packages: minutes on a loaded machine. */
const SLOW = 15 * 60_000

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString()
    })
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString()
    })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const npmMissing = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0

/** The consumer's own program: every call the issue names, with an optional left `undefined`. */
const MAIN_TS = `import { ApiError, Client, type ErrorCode, type GetMeResponse } from 'agentrouter'

const client = new Client({
  baseUrl: process.env.AGENTROUTER_BASE_URL,
  apiKey: process.env.AGENTROUTER_API_KEY,
  timeoutMs: process.env.TIMEOUT_MS ? Number(process.env.TIMEOUT_MS) : undefined,
})
const me: GetMeResponse = await client.me.get()
console.log(\`identity \${me.identity.id} \${me.identity.email}\`)
const list = await client.tokens.getRevocationList({ since: '', limit: 10 })
console.log(\`revocations \${list.revocations.length}\`)
const again = await client.tokens.getRevocationList({ since: process.env.SINCE, limit: undefined })
console.log(\`snapshot \${typeof again.snapshot_at}\`)
try {
  await new Client({ baseUrl: process.env.AGENTROUTER_BASE_URL, apiKey: 'not-a-key' }).me.get()
} catch (err) {
  if (!(err instanceof ApiError)) throw err
  const code: ErrorCode = err.code
  console.log(\`error \${code} \${err.status}\`)
}
`

const COMPILER_OPTIONS = { target: 'ES2022', strict: true, exactOptionalPropertyTypes: true, types: ['node'] }

/** The seed examples run here: the ones the bootstrap admin key answers (see seed-examples.test.ts). */
const RUN_SEEDS: Record<string, { stdout: RegExp } | { code: string }> = {
  'get-revocation-list': { stdout: /snapshot_at: '/ },
  'get-current-identity': { stdout: /identity: \{/ },
  'list-api-keys': { stdout: /keys: \[/ },
  'list-secrets': { stdout: /secrets: \[/ },
  'get-jwks': { stdout: /keys: \[/ },
  'get-secret': { code: 'invalid_argument' }, // its request is `{}`: name missing
}

/**
 * The one seed example that is not valid TypeScript: its placeholder for the boolean `userScope`
 * is the string "...". tsc must report exactly this and nothing else.
 */
const SEED_TYPE_ERROR =
  /^seeds\/register-an-ai-key\.ts\(\d+,\d+\): error TS2345: Argument of type '"\.\.\."' is not assignable to parameter of type 'boolean \| undefined'\.$/

describe('a consumer project installs the packed tarball', {
  skip: npmMissing && 'npm is not on PATH',
  timeout: 2 * SLOW,
}, () => {
  const work = tempDir('agentrouter-consumer-')
  const consumer = join(work, 'consumer')
  let packed: { filename: string; files: Array<{ path: string }> }
  let cp: TestControlPlane
  let adminEnv: Record<string, string>

  before(
    async () => {
      const pack = await run('npm', ['pack', '--json', '--pack-destination', work], REPO_ROOT)
      assert.equal(pack.code, 0, pack.stderr)
      // prepack's output precedes the JSON on stdout.
      packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('\n[') + 1))[0]

      mkdirSync(join(consumer, 'seeds'), { recursive: true })
      const typesNode = JSON.parse(
        readFileSync(join(REPO_ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8'),
      ).version
      const manifest = {
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: { agentrouter: `file:../${packed.filename}` },
        devDependencies: { '@types/node': typesNode },
      }
      writeFileSync(join(consumer, 'package.json'), JSON.stringify(manifest, null, 2))
      // --ignore-scripts: the client needs no install script; the tree's only ones are
      // better-sqlite3's native build (the server's, compiled from source when no prebuilt binary
      // can be downloaded: minutes here) and esbuild's binary check.
      const install = await run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
        consumer,
      )
      assert.equal(install.code, 0, install.stderr)

      writeFileSync(join(consumer, 'main.ts'), MAIN_TS)
      for (const seed of seedEndpoints()) {
        const index = seed.typescript.find((f) => f.name === 'index.ts')
        assert.ok(index, `${seed.slug} has an index.ts`)
        assert.match(index.content, SEED_IMPORT)
        writeFileSync(
          join(consumer, 'seeds', `${seed.slug}.ts`),
          index.content.replace(SEED_IMPORT, OUR_IMPORT),
        )
      }
      const tsconfig = (options: Record<string, unknown>, include: string[]) =>
        JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, ...options }, include }, null, 2)
      writeFileSync(
        join(consumer, 'tsconfig.nodenext.json'),
        tsconfig({ module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out/nodenext' }, ['main.ts']),
      )
      writeFileSync(
        join(consumer, 'tsconfig.bundler.json'),
        tsconfig({ module: 'esnext', moduleResolution: 'bundler', outDir: 'out/bundler' }, [
          'main.ts',
          'seeds',
        ]),
      )

      cp = await startControlPlane()
      adminEnv = { AGENTROUTER_BASE_URL: cp.url, AGENTROUTER_API_KEY: cp.adminKey }
    },
    { timeout: SLOW },
  )
  after(() => cp?.stop())

  it('packs the compiled client, its declarations and the CLI, and nothing else', () => {
    const paths = packed.files.map((f) => f.path)
    for (const needed of [
      'dist/shared/client/index.js',
      'dist/shared/client/index.d.ts',
      'dist/shared/contract/routes.d.ts',
      'dist/shared/errors.js',
      'cli/tare.mjs',
      'cli/main.ts',
      'shared/client/index.ts',
      'package.json',
      'README.md',
    ]) {
      assert.ok(paths.includes(needed), `${needed} is packed`)
    }
    const stray = paths.filter(
      (p) => !/^(dist|cli|shared)\//.test(p) && !['package.json', 'README.md'].includes(p),
    )
    assert.deepEqual(stray, [])
    assert.deepEqual(
      paths.filter((p) => p.includes('.test.')),
      [],
    )
    // Declarations import each other as `.js`, which every TypeScript version resolves.
    const declarations = readFileSync(
      join(consumer, 'node_modules/agentrouter/dist/shared/client/index.d.ts'),
      'utf8',
    )
    assert.match(declarations, /from '\.\/transport\.js'/)
    assert.doesNotMatch(declarations, /from '\.{1,2}\/[^']+\.ts'/)
  })

  it("type-checks the consumer's file with its own tsc under moduleResolution nodenext", {
    timeout: SLOW,
  }, async () => {
    const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.nodenext.json'], consumer)
    assert.equal(tsc.stdout + tsc.stderr, '')
    assert.equal(tsc.code, 0)
  })

  it('type-checks it under moduleResolution bundler, with every seed example but the one whose placeholder is a type error', {
    timeout: SLOW,
  }, async () => {
    const tsc = await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], consumer)
    const errors = tsc.stdout.trim().split('\n')
    assert.equal(errors.length, 1, tsc.stdout)
    assert.match(errors[0] ?? '', SEED_TYPE_ERROR)
  })

  it('runs the compiled file with plain node against a control plane', async () => {
    const { identity } = await cp.admin.me.get()
    const main = await run(process.execPath, ['out/nodenext/main.js'], consumer, adminEnv)
    assert.equal(main.code, 0, main.stderr)
    assert.equal(main.stderr, '')
    const lines = main.stdout.split('\n')
    assert.equal(lines[0], `identity ${identity.id} ${identity.email}`)
    assert.match(lines[1] ?? '', /^revocations \d+$/)
    assert.deepEqual(lines.slice(2), ['snapshot string', 'error unauthenticated 401', ''])
  })

  describe("runs the seeds' examples compiled by the consumer's tsc", () => {
    for (const [slug, expected] of Object.entries(RUN_SEEDS)) {
      it(slug, async () => {
        const example = await run(process.execPath, [`out/bundler/seeds/${slug}.js`], consumer, adminEnv)
        assert.equal(example.code, 0, example.stderr)
        if ('stdout' in expected) {
          assert.equal(example.stderr, '')
          assert.match(example.stdout, expected.stdout)
        } else {
          assert.equal(example.stdout, '')
          assert.match(example.stderr, /^Error: ApiError: /)
          assert.match(example.stderr, new RegExp(`code: '${expected.code}'`))
        }
      })
    }
  })

  it('installs the tare bin, which runs from the package', async () => {
    const { identity } = await cp.admin.me.get()
    const tare = await run(join(consumer, 'node_modules', '.bin', 'tare'), ['api', 'whoami'], consumer, {
      ...adminEnv,
      XDG_CONFIG_HOME: join(work, 'config'),
    })
    assert.equal(tare.code, 0, tare.stderr)
    assert.match(tare.stdout, new RegExp(identity.id))
  })
})
