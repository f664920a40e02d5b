/**
 * docker-compose.yml and the Dockerfile against the configuration the code reads. No Docker
 * engine runs here, so this is what keeps the two from drifting: every variable the compose
 * file sets is one the component reads, the contract's variables are all there, the values pass
 * the components' own config parsers, and the ports, volume and health checks line up.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { CONTROL_PLANE_VARIABLES, loadControlPlaneConfig } from '../../control-plane/config.ts'
import { DATAPLANE_KEY_FILE as BOOTSTRAP_DATAPLANE_KEY_FILE } from '../../control-plane/identity/bootstrap.ts'
import { DATAPLANE_KEY_FILE, DATAPLANE_VARIABLES, loadDataplaneConfig } from '../../dataplane/config.ts'
import { contractText } from '../support/documents.ts'
import { REPO_ROOT, tempDir } from '../support/process.ts'

interface Service {
  command: string[]
  environment: Record<string, string>
  ports: string[]
  volumes: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number }
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>
  volumes: Record<string, unknown>
}
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')

/** `${NAME:-default}` as Compose resolves it with NAME unset; `${NAME}` is empty. */
function interpolate(value: string): string {
  return String(value).replace(
    /\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g,
    (_, fallback: string | undefined) => fallback ?? '',
  )
}

/** The environment a container gets; empty values are dropped, as the code's config reader does. */
function environmentOf(service: Service): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(service.environment)) {
    const value = interpolate(v)
    if (value !== '') out[k] = value
  }
  return out
}

/** The container port of each `host:container` mapping. */
const containerPorts = (service: Service) => service.ports.map((p) => Number(p.split(':').at(-1)))
const portOf = (listen: string) => Number(listen.split(':').at(-1))

/** `{ volume name → mount path }` of the named volumes a service mounts. */
function namedMounts(service: Service): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of service.volumes) {
    const [source, target] = v.split(':')
    if (source && target && !source.startsWith('.') && !source.startsWith('/')) out[source] = target
  }
  return out
}

/** The variables the contract's Configuration table names (api.md, read as data). */
function contractVariables(): string[] {
  const api = contractText()
  const section = api.slice(api.indexOf('## Configuration'), api.indexOf('## Start, test, bench'))
  return [...new Set(section.match(/AGENTROUTER_[A-Z0-9_]+/g) ?? [])]
}

describe('docker-compose.yml against the code', () => {
  const cp = compose.services['control-plane']!
  const dp = compose.services.dataplane!
  const cpEnv = environmentOf(cp)
  const dpEnv = environmentOf(dp)

  it('runs a control plane and a dataplane from the entry points of the repository', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['control-plane', 'dataplane'])
    assert.deepEqual(cp.command, ['node', '--import', 'tsx', 'control-plane/main.ts'])
    assert.deepEqual(dp.command, ['node', '--import', 'tsx', 'dataplane/main.ts'])
    for (const s of [cp, dp]) assert.ok(existsSync(join(REPO_ROOT, s.command.at(-1)!)))
  })

  it('sets only variables each component reads', () => {
    for (const name of Object.keys(cp.environment)) {
      assert.ok(
        name in CONTROL_PLANE_VARIABLES,
        `control-plane: ${name} is not read by control-plane/config.ts`,
      )
    }
    for (const name of Object.keys(dp.environment)) {
      assert.ok(name in DATAPLANE_VARIABLES, `dataplane: ${name} is not read by dataplane/config.ts`)
    }
  })

  it("sets every variable of the contract's configuration table for the component that reads it", () => {
    const contract = contractVariables()
    assert.ok(contract.length >= 8, `found ${contract.join(', ')}`)
    for (const name of contract) {
      const readers = [
        name in CONTROL_PLANE_VARIABLES ? 'control-plane' : undefined,
        name in DATAPLANE_VARIABLES ? 'dataplane' : undefined,
      ].filter(Boolean)
      assert.ok(readers.length > 0, `${name} is in the contract but no component reads it`)
      // The dataplane key comes from the shared volume (checked below), not from a variable.
      if (name === 'AGENTROUTER_DATAPLANE_KEY') continue
      for (const reader of readers) {
        assert.ok(name in compose.services[reader!]!.environment, `${reader} does not set ${name}`)
      }
    }
  })

  it('the values pass the components’ own configuration parsers', () => {
    const cpConfig = loadControlPlaneConfig(cpEnv)
    assert.deepEqual(cpConfig.listen, { host: '0.0.0.0', port: 8080 })
    assert.equal(cpConfig.dataDir, '/data')
    assert.deepEqual(cpConfig.oidc.issuers, [], 'no issuer: the development IdP')

    const dataDir = tempDir('compose-dp-')
    writeFileSync(join(dataDir, DATAPLANE_KEY_FILE), 'ak-eyJh.eyJi.c2ln\n', { mode: 0o600 })
    const dpConfig = loadDataplaneConfig({ ...dpEnv, AGENTROUTER_DATA_DIR: dataDir })
    assert.deepEqual(dpConfig.listen, { host: '0.0.0.0', port: 8081 })
    assert.equal(dpConfig.controlPlane.key, 'ak-eyJh.eyJi.c2ln', 'the key is read from the data dir')
  })

  it('the dataplane reaches the control plane by its service name and listen port', () => {
    const url = new URL(dpEnv.AGENTROUTER_CONTROL_PLANE_URL!)
    assert.equal(url.hostname, 'control-plane')
    assert.equal(Number(url.port), portOf(cpEnv.AGENTROUTER_CP_LISTEN!))
    assert.equal(dp.depends_on?.['control-plane']?.condition, 'service_healthy')
  })

  it('the dataplane reads the dataplane.key the control plane writes into the shared named volume', () => {
    assert.equal(BOOTSTRAP_DATAPLANE_KEY_FILE, DATAPLANE_KEY_FILE, 'both components name the file alike')
    const cpMounts = namedMounts(cp)
    const dpMounts = namedMounts(dp)
    const [volume] = Object.keys(cpMounts)
    assert.ok(volume && volume in compose.volumes, 'a named volume, declared at the top level')
    assert.equal(cpMounts[volume], cpEnv.AGENTROUTER_DATA_DIR)
    assert.equal(dpMounts[volume], dpEnv.AGENTROUTER_DATA_DIR)
    assert.equal(dpEnv.AGENTROUTER_DATAPLANE_KEY, undefined, 'no key in the compose file')
    assert.match(dockerfile, new RegExp(`^VOLUME \\["${cpEnv.AGENTROUTER_DATA_DIR}"\\]$`, 'm'))
  })

  it('publishes the listen ports, and the image exposes them', () => {
    const cpPorts = [portOf(cpEnv.AGENTROUTER_CP_LISTEN!), portOf(cpEnv.AGENTROUTER_DEV_IDP_LISTEN!)]
    assert.deepEqual(containerPorts(cp).sort(), cpPorts.sort())
    assert.deepEqual(containerPorts(dp), [portOf(dpEnv.AGENTROUTER_DP_LISTEN!)])
    const exposed = (dockerfile.match(/^EXPOSE (.+)$/m)?.[1] ?? '').split(/\s+/).map(Number)
    for (const port of [...cpPorts, ...containerPorts(dp)])
      assert.ok(exposed.includes(port), `EXPOSE ${port}`)
  })

  it('health checks ask each component’s own /readyz on its listen port', () => {
    for (const [service, listen] of [
      [cp, cpEnv.AGENTROUTER_CP_LISTEN!],
      [dp, dpEnv.AGENTROUTER_DP_LISTEN!],
    ] as const) {
      const script = service.healthcheck.test.at(-1)!
      assert.equal(service.healthcheck.test[0], 'CMD')
      assert.ok(script.includes(`http://127.0.0.1:${portOf(listen)}/readyz`), script)
      assert.ok(
        service.healthcheck.interval && service.healthcheck.timeout && service.healthcheck.retries > 0,
      )
    }
  })

  it('the health-check command exits 0 on a ready answer and 1 otherwise, as Docker needs', async () => {
    let ready = true
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/readyz' && ready ? 200 : 503).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const [node, ...args] = cp.healthcheck.test.slice(1)
      // Asynchronously: the server answering it runs in this process.
      const run = () =>
        new Promise<number | null>((resolve) => {
          const child = spawn(
            node === 'node' ? process.execPath : node!,
            args.map((a) => a.replace(':8080/', `:${port}/`)),
            { stdio: 'ignore', timeout: 10_000 },
          )
          child.once('exit', (code) => resolve(code))
        })
      assert.equal(await run(), 0)
      ready = false
      assert.equal(await run(), 1)
      server.close()
      assert.equal(await run(), 1, 'nothing listening')
    } finally {
      server.close()
    }
  })

  it('the Dockerfile is multi-stage and copies every folder the entry points need', () => {
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2)
    for (const folder of ['shared', 'control-plane', 'dataplane', 'cli']) {
      assert.match(dockerfile, new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'))
    }
    assert.match(dockerfile, /npm ci --omit=dev/)
  })
})

describe('the lists of variables are complete', () => {
  for (const [file, list] of [
    ['control-plane/config.ts', CONTROL_PLANE_VARIABLES],
    ['dataplane/config.ts', DATAPLANE_VARIABLES],
  ] as const) {
    it(`every AGENTROUTER_* name in ${file} is in its exported list`, () => {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8')
      const named = new Set(text.match(/AGENTROUTER_[A-Z0-9_]+/g))
      for (const name of named) assert.ok(name in list, `${name} is read in ${file} but not listed`)
    })
  }

  it('every AGENTROUTER_* name anywhere in control-plane/ is in CONTROL_PLANE_VARIABLES', () => {
    const out = spawnSync('grep', ['-rhoE', 'AGENTROUTER_[A-Z0-9_]+', join(REPO_ROOT, 'control-plane')], {
      encoding: 'utf8',
    })
    for (const name of new Set(out.stdout.split('\n').filter(Boolean))) {
      assert.ok(name in CONTROL_PLANE_VARIABLES, `${name} is mentioned in control-plane/ but not listed`)
    }
  })
})
