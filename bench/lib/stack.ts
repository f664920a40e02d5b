/**
 * @module The product as the benchmarks use it: a real control plane and real dataplanes (child
 * processes, started by the tests' launchers), a user logged in through the development IdP, a
 * project BYOK key for OpenAI registered through the control plane, and an API key issued for
 * that user. Logs are at `info`: the tests' `debug` would put log writes in what is measured.
 */
import {
  type LoginResult,
  startControlPlane,
  type TestControlPlane,
} from '../../test/support/control-plane.ts'
import { startDataplane, type TestDataplane } from '../../test/support/dataplane.ts'
import { track, untrack } from './cleanup.ts'
import { pin } from './cpu.ts'

export interface Tenant {
  login: LoginResult
  /** `ak-<jwt>`, as issued. */
  apiKey: string
  keyId: string
}

/** A control plane pinned to `core`, at `info` level. */
export async function startBenchControlPlane(
  core: number | undefined,
  env: Record<string, string> = {},
  dataDir?: string,
): Promise<TestControlPlane> {
  const cp = await startControlPlane({ AGENTROUTER_LOG_LEVEL: 'info', ...env }, dataDir)
  tracked(cp)
  pin(cp.process.child.pid, core)
  return cp
}

/** A dataplane of `cp`, forwarding both providers to `upstream`, pinned to `core`. */
export async function startBenchDataplane(
  cp: TestControlPlane,
  upstream: string,
  core: number | undefined,
  env: Record<string, string> = {},
  readyTimeoutMs = 15_000,
): Promise<TestDataplane> {
  const dp = await startDataplane({
    controlPlaneUrl: cp.url,
    dataplaneKey: cp.dataplaneKey,
    upstream,
    waitReady: false,
    env: { AGENTROUTER_LOG_LEVEL: 'info', AGENTROUTER_DP_PERSIST_DELAY: '1s', ...env },
  })
  tracked(dp)
  pin(dp.process.child.pid, core)
  await dp.waitFor((r) => r.ready, readyTimeoutMs)
  return dp
}

/** Tracks the component's process until its `stop()` (see lib/cleanup.ts). */
function tracked(component: { process: { child: { pid?: number } }; stop(): Promise<void> }): void {
  const pid = component.process.child.pid
  const stop = component.stop
  track(pid)
  component.stop = async () => {
    await stop()
    untrack(pid)
  }
}

/** Logs `email` in, registers the project's OpenAI key (`providerKey`) and issues an API key. */
export async function createTenant(
  cp: TestControlPlane,
  email: string,
  providerKey: string,
): Promise<Tenant> {
  const login = await cp.login(email)
  await login.client.aikeys.register(login.customerId, login.projectId, 'openai', 'bench-openai', providerKey)
  const issued = await login.client.me.issueKey('bench')
  return { login, apiKey: issued.secret, keyId: issued.key.id }
}
