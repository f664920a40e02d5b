/**
 * docker-compose.yml and the Dockerfile against the configuration the code reads. No Docker
 * engine runs here, so this is what keeps the two from drifting: every variable the compose
 * file sets is one the component reads, the contract's variables are all there, the values pass
 * the components' own config parsers, and the ports, volumes, secrets and health checks line up.
 * The dataplane mounts nothing of the control plane's (neither its database nor its root key):
 * keys reach each service as Compose secret files. The `replicas` profile runs PostgreSQL, two
 * control-plane replicas sharing it and the root key, and a dataplane given both replicas.
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
  image?: string
  profiles?: string[]
  secrets?: string[]
  stop_grace_period?: string
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
  secrets: Record<string, { file?: string; environment?: string }>
}
const REPLICAS = ['postgres', 'control-plane-1', 'control-plane-2', 'dataplane-replicas']
const CONTROL_PLANES = ['control-plane', 'control-plane-1', 'control-plane-2']
const DATAPLANES = ['dataplane', 'dataplane-replicas']
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

  it('runs a control plane and a dataplane by default, the replicas only in their profile', () => {
    const byDefault = Object.keys(compose.services).filter((name) => !compose.services[name]!.profiles)
    assert.deepEqual(byDefault.sort(), ['control-plane', 'dataplane'])
    for (const name of REPLICAS) assert.deepEqual(compose.services[name]?.profiles, ['replicas'], name)
    assert.deepEqual(Object.keys(compose.services).sort(), [...byDefault, ...REPLICAS].sort())
    for (const name of CONTROL_PLANES)
      assert.deepEqual(compose.services[name]!.command, ['node', '--import', 'tsx', 'control-plane/main.ts'])
    for (const name of DATAPLANES)
      assert.deepEqual(compose.services[name]!.command, ['node', '--import', 'tsx', 'dataplane/main.ts'])
    for (const s of [cp, dp]) assert.ok(existsSync(join(REPO_ROOT, s.command.at(-1)!)))
  })

  it('sets only variables each component reads', () => {
    for (const service of CONTROL_PLANES) {
      for (const name of Object.keys(compose.services[service]!.environment)) {
        assert.ok(
          name in CONTROL_PLANE_VARIABLES,
          `${service}: ${name} is not read by control-plane/config.ts`,
        )
      }
    }
    for (const service of DATAPLANES) {
      for (const name of Object.keys(compose.services[service]!.environment)) {
        assert.ok(name in DATAPLANE_VARIABLES, `${service}: ${name} is not read by dataplane/config.ts`)
      }
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
      // The keys come as secret files (checked below), not as variables.
      if (name === 'AGENTROUTER_DATAPLANE_KEY' || name === 'AGENTROUTER_ROOT_KEY') continue
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
    const keyFile = join(dataDir, 'dataplane_key')
    writeFileSync(keyFile, 'ak-eyJh.eyJi.c2ln\n', { mode: 0o600 })
    assert.equal(dpEnv.AGENTROUTER_DATAPLANE_KEY_FILE, '/run/secrets/dataplane_key')
    const dpConfig = loadDataplaneConfig({
      ...dpEnv,
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_DATAPLANE_KEY_FILE: keyFile,
    })
    assert.deepEqual(dpConfig.listen, { host: '0.0.0.0', port: 8081 })
    assert.equal(dpConfig.controlPlane.key, 'ak-eyJh.eyJi.c2ln', 'the key is read from the secret file')
    assert.equal(dpConfig.drainTimeoutMs, 30_000)
  })

  it('the dataplane reaches the control plane by its service name and listen port', () => {
    const url = new URL(dpEnv.AGENTROUTER_CONTROL_PLANE_URL!)
    assert.equal(url.hostname, 'control-plane')
    assert.equal(Number(url.port), portOf(cpEnv.AGENTROUTER_CP_LISTEN!))
    assert.equal(dp.depends_on?.['control-plane']?.condition, 'service_healthy')
  })

  it('the dataplane mounts no volume of the control plane: it sees neither the database nor the root key', () => {
    const cpMounts = namedMounts(cp)
    const dpMounts = namedMounts(dp)
    const [volume] = Object.keys(cpMounts)
    assert.ok(volume && volume in compose.volumes, 'a named volume, declared at the top level')
    assert.equal(cpMounts[volume], cpEnv.AGENTROUTER_DATA_DIR)
    assert.deepEqual(Object.keys(dpMounts).length, 1, 'the dataplane has a volume of its own')
    assert.ok(Object.keys(dpMounts)[0]! in compose.volumes)
    assert.equal(Object.values(dpMounts)[0], dpEnv.AGENTROUTER_DATA_DIR, 'for its snapshot')
    assert.ok(!(volume in dpMounts), 'no mount of the control plane volume')
    assert.deepEqual(
      dp.volumes.filter((v) => v.startsWith('.') || v.startsWith('/')),
      [],
      'and no host directory either',
    )
    // Every pair of a control plane and a dataplane, the replicas' too.
    for (const cpName of CONTROL_PLANES) {
      for (const dpName of DATAPLANES) {
        const shared = Object.keys(namedMounts(compose.services[cpName]!)).filter(
          (v) => v in namedMounts(compose.services[dpName]!),
        )
        assert.deepEqual(shared, [], `${cpName} and ${dpName} share no volume`)
      }
    }
    assert.match(dockerfile, new RegExp(`^VOLUME \\["${cpEnv.AGENTROUTER_DATA_DIR}"\\]$`, 'm'))
  })

  it('gives keys as Compose secret files: the root key to control planes, a dataplane key to each dataplane', () => {
    const secretFile = (service: Service, variable: string): string => {
      const path = environmentOf(service)[variable]
      const match = /^\/run\/secrets\/([a-z0-9_]+)$/.exec(path ?? '')
      assert.ok(match, `${variable} names a mounted secret: ${path}`)
      const name = match[1]!
      assert.ok(service.secrets?.includes(name), `the service is given the ${name} secret`)
      const file = compose.secrets[name]?.file
      assert.ok(file?.startsWith('./secrets/'), `${name} is a file in ./secrets: ${file}`)
      return name
    }
    for (const name of CONTROL_PLANES) {
      const service = compose.services[name]!
      assert.equal(
        secretFile(service, 'AGENTROUTER_ROOT_KEY_FILE'),
        'root_key',
        `${name}: the shared root key`,
      )
      assert.equal(service.environment.AGENTROUTER_ROOT_KEY, undefined, `${name}: no key in the compose file`)
    }
    const dataplaneKeys = DATAPLANES.map((name) => {
      const service = compose.services[name]!
      assert.equal(
        service.environment.AGENTROUTER_DATAPLANE_KEY,
        undefined,
        `${name}: no key in the compose file`,
      )
      assert.ok(!service.secrets?.includes('root_key'), `${name} is not given the root key`)
      return secretFile(service, 'AGENTROUTER_DATAPLANE_KEY_FILE')
    })
    assert.equal(new Set(dataplaneKeys).size, DATAPLANES.length, 'a key per dataplane')
    assert.equal(BOOTSTRAP_DATAPLANE_KEY_FILE, DATAPLANE_KEY_FILE, 'the bootstrap key file the docs copy out')
    for (const ignore of ['.gitignore', '.dockerignore']) {
      const lines = readFileSync(join(REPO_ROOT, ignore), 'utf8').split('\n')
      assert.ok(lines.includes('secrets') || lines.includes('secrets/'), `${ignore} keeps ./secrets out`)
    }
  })

  it('the replicas profile: PostgreSQL, two control planes on it, a dataplane given both', () => {
    const postgres = compose.services.postgres!
    assert.match(postgres.image ?? '', /^postgres:\d+/)
    assert.deepEqual(postgres.ports ?? [], [], 'the database is not published')
    const replicas = ['control-plane-1', 'control-plane-2'].map((name) => compose.services[name]!)
    const urls = new Set<string>()
    const volumes = new Set<string>()
    for (const replica of replicas) {
      const env = environmentOf(replica)
      const config = loadControlPlaneConfig(env)
      assert.ok(config.databaseUrl, 'on PostgreSQL')
      assert.equal(new URL(config.databaseUrl).hostname, 'postgres')
      urls.add(config.databaseUrl)
      assert.equal(replica.depends_on?.postgres?.condition, 'service_healthy')
      for (const v of Object.keys(namedMounts(replica))) volumes.add(v)
    }
    assert.equal(urls.size, 1, 'one database for both')
    assert.equal(volumes.size, 2, 'a data volume each (the bootstrap key files)')
    assert.equal(
      compose.services['control-plane-2']!.depends_on?.['control-plane-1']?.condition,
      'service_healthy',
      'the first replica bootstraps',
    )

    const dpReplicas = compose.services['dataplane-replicas']!
    const dpEnvironment = environmentOf(dpReplicas)
    const keyDir = tempDir('compose-dp-replicas-')
    writeFileSync(join(keyDir, 'key'), 'ak-eyJh.eyJi.c2ln\n', { mode: 0o600 })
    const config = loadDataplaneConfig({
      ...dpEnvironment,
      AGENTROUTER_DATA_DIR: keyDir,
      AGENTROUTER_DATAPLANE_KEY_FILE: join(keyDir, 'key'),
    })
    assert.deepEqual(
      config.controlPlane.urls.map((u) => new URL(u).host),
      replicas.map(
        (_, i) => `control-plane-${i + 1}:${portOf(environmentOf(replicas[i]!).AGENTROUTER_CP_LISTEN!)}`,
      ),
    )
    for (const name of ['control-plane-1', 'control-plane-2'])
      assert.equal(dpReplicas.depends_on?.[name]?.condition, 'service_healthy')
  })

  it('publishes each service on its own host port, and stops no faster than the drain', () => {
    const hostPorts = Object.values(compose.services).flatMap((s) =>
      (s.ports ?? []).map((p) => p.split(':').slice(0, -1).join(':')),
    )
    assert.equal(new Set(hostPorts).size, hostPorts.length, `host ports: ${hostPorts.join(' ')}`)
    for (const name of [...CONTROL_PLANES, ...DATAPLANES]) {
      const service = compose.services[name]!
      const drain = /^(\d+)s$/.exec(interpolate(service.environment.AGENTROUTER_DRAIN_TIMEOUT ?? ''))
      const grace = /^(\d+)s$/.exec(service.stop_grace_period ?? '')
      assert.ok(drain && grace, `${name}: a drain timeout and a stop grace period, in seconds`)
      assert.ok(Number(grace[1]) > Number(drain[1]), `${name}: Compose waits longer than the drain`)
    }
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
      ...CONTROL_PLANES.map((n) => [compose.services[n]!, cpEnv.AGENTROUTER_CP_LISTEN!] as const),
      ...DATAPLANES.map((n) => [compose.services[n]!, dpEnv.AGENTROUTER_DP_LISTEN!] as const),
    ]) {
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
