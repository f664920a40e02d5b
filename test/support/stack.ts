/**
 * @module The product as `npm start` runs it: `scripts/start.ts` launching the control plane
 * (with its development IdP) and a dataplane, all on 127.0.0.1 with free ports and a temp data
 * directory.
 */
import { readFileSync } from 'node:fs'
import { type StartedProcess, startProcess, tempDir } from './process.ts'

export interface TestStack {
  controlPlaneUrl: string
  dataplaneUrl: string
  adminKey: string
  dataDir: string
  process: StartedProcess
  stop(): Promise<void>
}

export async function startStack(env: Record<string, string> = {}): Promise<TestStack> {
  const dataDir = tempDir()
  const proc = await startProcess(
    'scripts/start.ts',
    {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
      ...env,
    },
    'dataplane listening',
    40_000,
  )
  const cpRecord = proc
    .output()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return undefined
      }
    })
    .find((r) => r?.msg === 'control plane listening')
  if (!cpRecord) throw new Error(`no control plane record in:\n${proc.output()}`)
  return {
    controlPlaneUrl: cpRecord.url as string,
    dataplaneUrl: proc.ready.url as string,
    adminKey: readFileSync(cpRecord.bootstrap_admin_key_file as string, 'utf8').trim(),
    dataDir,
    process: proc,
    stop: () => proc.stop(),
  }
}
