/**
 * @module A real dataplane for tests: `dataplane/main.ts` as a child process on 127.0.0.1 port 0
 * with its own data directory, pointed at a control plane and at a local upstream, plus helpers
 * to read its readiness and metrics.
 */
import type { Readiness } from '../../dataplane/http/ops.ts'
import { type StartedProcess, startProcess, tempDir } from './process.ts'

export interface DataplaneOptions {
  controlPlaneUrl: string
  dataplaneKey: string
  /** Base URL for both providers (a `startUpstream()`), unless set per provider in `env`. */
  upstream?: string
  dataDir?: string
  name?: string
  env?: Record<string, string>
  /** Wait for `/readyz` to answer 200 (default true). */
  waitReady?: boolean
}

export interface TestDataplane {
  url: string
  dataDir: string
  name: string
  process: StartedProcess
  readiness(): Promise<Readiness>
  waitFor(predicate: (r: Readiness) => boolean, timeoutMs?: number): Promise<Readiness>
  metrics(): Promise<string>
  /** A metric's value (first sample matching all `labels`), `undefined` when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>
  stop(): Promise<void>
}

export async function startDataplane(options: DataplaneOptions): Promise<TestDataplane> {
  const dataDir = options.dataDir ?? tempDir('agentrouter-dp-')
  const name = options.name ?? `test-dp-${Math.random().toString(36).slice(2, 8)}`
  const proc = await startProcess(
    'dataplane/main.ts',
    {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DP_NAME: name,
      AGENTROUTER_CONTROL_PLANE_URL: options.controlPlaneUrl,
      AGENTROUTER_DATAPLANE_KEY: options.dataplaneKey,
      AGENTROUTER_LOG_LEVEL: 'debug',
      AGENTROUTER_DP_PERSIST_DELAY: '50ms',
      AGENTROUTER_DP_CONTROL_PLANE_TIMEOUT: '3s',
      AGENTROUTER_DP_RECONNECT_MAX: '1s',
      ...(options.upstream
        ? { AGENTROUTER_UPSTREAM_OPENAI: options.upstream, AGENTROUTER_UPSTREAM_ANTHROPIC: options.upstream }
        : {}),
      ...options.env,
    },
    'dataplane listening',
  )
  const url = proc.ready.url as string
  const readiness = async (): Promise<Readiness> => (await (await fetch(`${url}/readyz`)).json()) as Readiness
  const waitFor = async (predicate: (r: Readiness) => boolean, timeoutMs = 15_000): Promise<Readiness> => {
    const deadline = Date.now() + timeoutMs
    let last: Readiness | undefined
    while (Date.now() < deadline) {
      last = await readiness()
      if (predicate(last)) return last
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(
      `dataplane ${name}: condition not met in ${timeoutMs} ms; last readiness ${JSON.stringify(last)}\n${proc.output().slice(-3000)}`,
    )
  }
  const metrics = async () => (await fetch(`${url}/metrics`)).text()
  const dp: TestDataplane = {
    url,
    dataDir,
    name,
    process: proc,
    readiness,
    waitFor,
    metrics,
    async metric(metricName, labels = {}) {
      for (const line of (await metrics()).split('\n')) {
        if (!line.startsWith(metricName)) continue
        const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line)
        if (!m || m[1] !== metricName) continue
        const text = m[2] ?? ''
        if (Object.entries(labels).every(([k, v]) => text.includes(`${k}="${v}"`))) return Number(m[3])
      }
      return undefined
    },
    stop: () => proc.stop(),
  }
  if (options.waitReady ?? true) await waitFor((r) => r.ready)
  return dp
}
