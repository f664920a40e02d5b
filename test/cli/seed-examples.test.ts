/**
 * The TypeScript examples of the API documents, run as they are written, with only the import
 * line changed to this package: each one is taken from the seeds' JSON lines at test time, put
 * in a project of its own whose `node_modules/agentrouter` re-exports the client's sources, and
 * run with tsx against a real control plane. A run succeeds when it prints the result, or when
 * the call is refused with the contract error its placeholder values (`"..."`) must produce.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { seedEndpoints } from '../support/documents.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

const SEED_IMPORT = /^import \{ Client \} from '@tetrate\/agentrouter-sdk'$/m
const OUR_IMPORT = "import { Client } from 'agentrouter'"

interface Example {
  slug: string
  seed: string
  persona: string
  files: Array<{ name: string; content: string }>
}

/** Every endpoint's `examples.typescript`, read from the seeds' JSON lines. */
function seedExamples(): Example[] {
  return seedEndpoints().map((e) => ({ slug: e.slug, seed: e.seed, persona: e.persona, files: e.typescript }))
}

type Credential = 'admin' | 'session' | 'logout-session'
/** What a correct run prints: the result (matching `stdout`), or an `ApiError` with `code`. */
type Expected = { credential: Credential } & ({ stdout: RegExp } | { code: string })

/**
 * The credential each example runs with (the persona the document names) and what it must print.
 * The examples fill requests with "...", `{}` or `cust_01H...`; the answer to those is the
 * contract's error, named here.
 */
const EXPECTED: Record<string, Expected> = {
  'initiate-oidc-login': { credential: 'admin', code: 'invalid_argument' }, // redirect_uri, code_challenge missing
  'log-out': { credential: 'logout-session', stdout: /^\{[\s\S]*\}\n$/ },
  'get-current-identity': { credential: 'admin', stdout: /identity: \{/ },
  'issue-an-api-key': { credential: 'session', stdout: /secret: 'ak-eyJ/ }, // "..." is a valid name
  'list-api-keys': { credential: 'admin', stdout: /keys: \[/ },
  'revoke-an-api-key': { credential: 'session', code: 'invalid_argument' }, // "..." is not key_<ulid>
  'register-an-ai-key': { credential: 'session', code: 'invalid_argument' }, // provider "..."
  'get-an-ai-key': { credential: 'session', code: 'invalid_argument' }, // id "..."
  'list-ai-keys': { credential: 'session', code: 'not_found' }, // there is no customer cust_01H...
  'revoke-an-ai-key': { credential: 'session', code: 'invalid_argument' },
  'get-revocation-list': { credential: 'admin', stdout: /snapshot_at: '/ },
  'create-secret': { credential: 'admin', code: 'invalid_argument' }, // name, value missing
  'get-secret': { credential: 'admin', code: 'invalid_argument' }, // name missing
  'list-secrets': { credential: 'admin', stdout: /secrets: \[/ },
  'delete-secret': { credential: 'admin', code: 'invalid_argument' },
  'rotate-secret': { credential: 'admin', code: 'invalid_argument' },
  'validate-secret': { credential: 'admin', code: 'invalid_argument' },
  'get-secret-value': { credential: 'admin', code: 'invalid_argument' },
  'get-jwks': { credential: 'admin', stdout: /keys: \[/ },
}

const TSX = import.meta.resolve('tsx')

function runExample(
  dir: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, 'index.ts'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
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
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe("the seeds' TypeScript examples, with only the import line changed", () => {
  const examples = seedExamples()
  const project = tempDir('seed-examples-')
  let cp: TestControlPlane
  const tokens = {} as Record<Credential, string>

  before(async () => {
    // A package named `agentrouter` that re-exports the client's sources, run by tsx here; the
    // packed package (compiled JavaScript) is installed and run by test/package/consumer.test.ts.
    const pkg = join(project, 'node_modules', 'agentrouter')
    mkdirSync(pkg, { recursive: true })
    writeFileSync(join(pkg, 'package.json'), '{"name":"agentrouter","type":"module","exports":"./index.js"}')
    const sources = pathToFileURL(join(REPO_ROOT, 'shared', 'client', 'index.ts')).href
    writeFileSync(join(pkg, 'index.js'), `export * from '${sources}'\n`)
    cp = await startControlPlane()
    tokens.admin = cp.adminKey
    tokens.session = (await cp.login('seed-user@example.com')).sessionToken
    tokens['logout-session'] = (await cp.login('seed-logout@example.com')).sessionToken
  })
  after(() => cp?.stop())

  it('finds one example per endpoint of the documents, each with an expectation here', () => {
    assert.equal(examples.length, 19)
    assert.deepEqual(examples.map((e) => e.slug).sort(), Object.keys(EXPECTED).sort())
  })

  describe('each example runs against a started control plane', { concurrency: 3 }, () => {
    for (const example of examples) {
      it(`${example.slug} (${example.seed}, ${example.persona})`, async () => {
        const expected = EXPECTED[example.slug]
        assert.ok(expected, `no expectation for ${example.slug}`)
        const dir = join(project, example.slug)
        mkdirSync(dir)
        for (const file of example.files) {
          let content = file.content
          if (file.name === 'index.ts') {
            assert.match(content, SEED_IMPORT, 'the example imports the documented SDK')
            content = content.replace(SEED_IMPORT, OUR_IMPORT)
          }
          writeFileSync(join(dir, file.name), content)
        }
        assert.ok(existsSync(join(dir, 'index.ts')))

        const run = await runExample(dir, {
          AGENTROUTER_BASE_URL: cp.url,
          AGENTROUTER_API_KEY: tokens[expected.credential],
        })
        assert.equal(run.code, 0, run.stderr)
        if ('stdout' in expected) {
          assert.equal(run.stderr, '', 'no error printed')
          assert.match(run.stdout, expected.stdout)
        } else {
          assert.equal(run.stdout, '')
          // The example's catch prints the ApiError; nothing else (a TypeError, say) will do.
          assert.match(run.stderr, /^Error: ApiError: /)
          assert.match(run.stderr, new RegExp(`code: '${expected.code}'`))
        }
      })
    }
  })

  it('the log-out example ended its session', async () => {
    await assert.rejects(cp.client(tokens['logout-session']).me.get(), { code: 'unauthenticated' })
  })
})
