/**
 * `/openapi.json` as tooling reads it: `servers` is where the control plane was reached (or
 * AGENTROUTER_PUBLIC_URL), every operation lists its error responses with the contract's error
 * schema (none that its persona cannot give), every schema is a named component and every
 * `$ref` resolves, and Redocly's linter (its `recommended` rules, offline) finds no error.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { routes } from '../../shared/contract/routes.ts'
import { startControlPlane, type TestControlPlane } from '../support/control-plane.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

// biome-ignore lint/suspicious/noExplicitAny: a JSON document, read by path
type Json = Record<string, any>

const REDOCLY = join(REPO_ROOT, 'node_modules/@redocly/cli/bin/cli.js')

/** `redocly lint` with its built-in `recommended` rules: totals and problems. */
function lint(doc: Json): {
  errors: number
  warnings: number
  problems: Array<{ ruleId: string; severity: string }>
} {
  assert.ok(existsSync(REDOCLY), '@redocly/cli is a devDependency: run npm install')
  const file = join(tempDir('openapi-lint-'), 'openapi.json')
  writeFileSync(file, JSON.stringify(doc, null, 2))
  const run = spawnSync(process.execPath, [REDOCLY, 'lint', file, '--format=json', '--extends=recommended'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: tempDir('redocly-home-'),
      REDOCLY_TELEMETRY: 'off',
      REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
    },
    timeout: 120_000,
  })
  const start = run.stdout.indexOf('{')
  assert.ok(start >= 0, `redocly printed no report (exit ${run.status}):\n${run.stdout}\n${run.stderr}`)
  const report = JSON.parse(run.stdout.slice(start)) as {
    totals: { errors: number; warnings: number }
    problems: Array<{ ruleId: string; severity: string }>
  }
  return { ...report.totals, problems: report.problems }
}

function getWithHost(url: string, host: string): Promise<Json> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => {
        body += c.toString()
      })
      res.on('end', () => resolve(JSON.parse(body) as Json))
    })
    req.on('error', reject)
    req.end()
  })
}

/** The value at a local `$ref` (`#/components/…`). */
function resolve(doc: Json, ref: string): unknown {
  return (
    ref
      .slice(2)
      .split('/')
      // biome-ignore lint/suspicious/noExplicitAny: a JSON document, read by path
      .reduce<any>((node, segment) => node?.[segment.replaceAll('~1', '/').replaceAll('~0', '~')], doc)
  )
}

function allRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) allRefs(v, out)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v)
      else allRefs(v, out)
    }
  }
  return out
}

describe('/openapi.json', () => {
  let cp: TestControlPlane
  let doc: Json

  before(async () => {
    cp = await startControlPlane()
    doc = (await (await fetch(`${cp.url}/openapi.json`)).json()) as Json
  })
  after(() => cp?.stop())

  it('lists the origin it was reached at as its server when AGENTROUTER_PUBLIC_URL is unset', async () => {
    assert.deepEqual(doc.servers, [{ url: cp.url }])
    const port = new URL(cp.url).port
    const other = await getWithHost(`${cp.url}/openapi.json`, `localhost:${port}`)
    assert.deepEqual(other.servers, [{ url: `http://localhost:${port}` }])
  })

  it('lists AGENTROUTER_PUBLIC_URL as its server when set, whatever the Host', async () => {
    const pub = await startControlPlane({ AGENTROUTER_PUBLIC_URL: 'https://agentrouter.example.test' })
    try {
      const served = (await (await fetch(`${pub.url}/openapi.json`)).json()) as Json
      assert.deepEqual(served.servers, [{ url: 'https://agentrouter.example.test' }])
    } finally {
      await pub.stop()
    }
  })

  it('documents each operation’s error responses with the named error schema, by persona', () => {
    const error = doc.components.schemas.Error
    assert.deepEqual([...error.required].sort(), ['code', 'details', 'message'])
    assert.ok(error.properties.code.enum.includes('invalid_argument'))
    for (const [id, spec] of Object.entries(routes)) {
      const op = doc.paths[spec.path][spec.method.toLowerCase()]
      assert.equal(op.operationId, id)
      const statuses = Object.keys(op.responses)
      for (const status of statuses.filter((s) => s !== '200')) {
        const response = resolve(doc, op.responses[status].$ref) as Json
        assert.ok(response, `${id} ${status} resolves`)
        assert.deepEqual(response.content['application/json'].schema, { $ref: '#/components/schemas/Error' })
      }
      assert.ok(statuses.includes('500'), `${id} lists 500`)
      assert.ok(statuses.includes('default'), `${id} lists default`)
      if (spec.persona === 'public') {
        assert.ok(!statuses.includes('401') && !statuses.includes('403'), `${id} is public: no 401/403`)
      } else {
        assert.ok(statuses.includes('401') && statuses.includes('403'), `${id}: 401 and 403`)
      }
      assert.equal(
        statuses.includes('404'),
        'params' in spec,
        `${id}: 404 exactly when the path names something`,
      )
      const takesInput = 'params' in spec || 'query' in spec || 'body' in spec
      assert.equal(statuses.includes('400'), takesInput, `${id}: 400 exactly when it takes input`)
    }
    assert.ok(doc.paths['/v1/auth/login'].post.responses['429'], 'login starts are capped')
    assert.ok(doc.paths['/v1/auth/login'].post.responses['503'], 'the IdP may be unreachable')
  })

  it('names its schemas as components, and every $ref resolves', () => {
    const revoke = doc.paths['/v1/me/keys/{key_id}'].delete
    assert.deepEqual(revoke.responses['200'].content['application/json'].schema, {
      $ref: '#/components/schemas/RevokeKeyResponse',
    })
    const revoked = doc.components.schemas.RevokeKeyResponse
    assert.deepEqual(revoked.properties.key, { $ref: '#/components/schemas/ApiKey' })
    assert.deepEqual(revoked.properties.enforcement, { $ref: '#/components/schemas/Enforcement' })
    for (const [id, spec] of Object.entries(routes)) {
      const op = doc.paths[spec.path][spec.method.toLowerCase()]
      if ('responseType' in spec && spec.responseType) {
        // A binary stream (the compact revocation snapshot): its media type, no JSON schema.
        assert.equal(op.responses['200'].content[spec.responseType].schema.format, 'binary', id)
      } else {
        assert.match(
          op.responses['200'].content['application/json'].schema.$ref,
          /^#\/components\/schemas\/\w+$/,
          id,
        )
      }
      if ('body' in spec) {
        assert.match(
          op.requestBody.content['application/json'].schema.$ref,
          /^#\/components\/schemas\/\w+$/,
          id,
        )
      }
    }
    const refs = allRefs(doc)
    assert.ok(refs.length > 100)
    for (const ref of new Set(refs)) assert.ok(resolve(doc, ref), `${ref} resolves`)
    for (const name of Object.keys(doc.components.schemas)) {
      assert.ok(refs.includes(`#/components/schemas/${name}`), `${name} is used`)
    }
  })

  it('passes redocly lint (recommended) with no error', () => {
    const report = lint(doc)
    assert.equal(report.errors, 0, JSON.stringify(report.problems.filter((p) => p.severity === 'error')))
    // The linter does report errors: a dangling $ref is one.
    const broken = structuredClone(doc)
    broken.paths['/v1/me'].get.responses['200'].content['application/json'].schema = {
      $ref: '#/components/schemas/NoSuchSchema',
    }
    assert.ok(lint(broken).errors > 0, 'a broken document fails the lint')
  })
})
