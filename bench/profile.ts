/**
 * @module Profiles what a missed target points at, with `node --cpu-prof`, and prints where the
 * time went (bench/profile-summary.ts). Scenarios:
 *
 * - `dataplane [json|sse]`: the dataplane under the proxy benchmark's load (50 connections);
 * - `bare [json|sse]`: the bare undici proxy under the same load, to compare with;
 * - `cp-snapshot`: the control plane serving the paged revocation snapshot at 1M stored rows;
 * - `cp-writes`: the control plane issuing and revoking API keys, 16 in flight, at 1M rows.
 *
 * Run: `node --import tsx bench/profile.ts <scenario> [json|sse] [seconds]`; the profile is
 * written under .tmp/profiles/ (git-ignored).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Client } from '../shared/client/index.ts'
import { loginThroughDevIdp } from '../test/support/control-plane.ts'
import { REPO_ROOT, tempDir } from '../test/support/process.ts'
import { killTrackedOnExit, track, untrack } from './lib/cleanup.ts'
import { corePlan, pin } from './lib/cpu.ts'
import { runLoad } from './lib/load.ts'
import { insertRevocations, readPagedSnapshot } from './lib/revocation-log.ts'
import { startScript } from './lib/servers.ts'
import { summarize } from './profile-summary.ts'

const PROVIDER_KEY = 'sk-bench-upstream'
const OUT = join(REPO_ROOT, '.tmp/profiles')

interface Profiled {
  child: ChildProcess
  ready: Record<string, unknown>
  dir: string
  /** SIGTERM, wait for the exit (which writes the profile), answer the profile's path. */
  stop(): Promise<string>
}

/** `node --cpu-prof --import tsx <entry>` with `env`, once it logs `readyMessage`. */
function startProfiled(entry: string, env: Record<string, string>, readyMessage: string): Promise<Profiled> {
  const dir = join(OUT, `${entry.replace(/\W+/g, '-')}-${Date.now()}`)
  mkdirSync(dir, { recursive: true })
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', join(REPO_ROOT, entry)],
    { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: 'pipe' },
  )
  track(child.pid)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      untrack(child.pid)
      resolve()
    }),
  )
  child.stderr!.pipe(process.stderr)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const record = JSON.parse(line) as Record<string, unknown>
        if (record.msg !== readyMessage) return
        resolve({
          child,
          ready: record,
          dir,
          async stop() {
            child.kill('SIGTERM')
            await exited
            // One profile per thread (tsx runs its loader in a worker): the main thread's is the largest.
            const files = readdirSync(dir)
              .filter((f) => f.endsWith('.cpuprofile'))
              .map((f) => join(dir, f))
              .sort((a, b) => statSync(b).size - statSync(a).size)
            if (!files[0]) throw new Error(`no profile in ${dir}`)
            return files[0]
          },
        })
      } catch {
        // not a log record
      }
    })
  })
}

async function startControlPlane(
  dataDir: string,
): Promise<{ cp: Profiled; url: string; adminKey: string; dataplaneKey: string }> {
  const cp = await startProfiled(
    'control-plane/main.ts',
    {
      AGENTROUTER_DATA_DIR: dataDir,
      AGENTROUTER_CP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_DEV_IDP_LISTEN: '127.0.0.1:0',
      AGENTROUTER_LOG_LEVEL: 'info',
    },
    'control plane listening',
  )
  pin(cp.child.pid, corePlan()?.subject)
  return {
    cp,
    url: cp.ready.url as string,
    adminKey: readFileSync(cp.ready.bootstrap_admin_key_file as string, 'utf8').trim(),
    dataplaneKey: readFileSync(cp.ready.dataplane_key_file as string, 'utf8').trim(),
  }
}

/** A data directory whose log holds 1M revocations (built once, then copied). */
async function dataDirWith1m(): Promise<string> {
  const template = join(REPO_ROOT, '.tmp/profile-1m-template')
  if (!existsSync(join(template, 'agentrouter.db'))) await insertRevocations(template, 1_000_000)
  const dir = tempDir('agentrouter-profile-')
  cpSync(template, dir, { recursive: true })
  return dir
}

async function profileProxy(
  which: 'dataplane' | 'bare',
  mode: 'json' | 'sse',
  seconds: number,
): Promise<string> {
  const cores = corePlan()
  pin(process.pid, cores?.load)
  const upstream = await startScript(
    'bench/upstream.ts',
    { BENCH_UPSTREAM_KEY: PROVIDER_KEY },
    'upstream listening',
    cores?.upstream,
  )
  let cp: Profiled | undefined
  let dp: Profiled
  let apiKey = 'client-credential'
  if (which === 'dataplane') {
    const started = await startControlPlane(tempDir())
    cp = started.cp
    pin(cp.child.pid, cores?.helper)
    const login = await loginThroughDevIdp(started.url, 'profile@example.com')
    await login.client.aikeys.register(login.customerId, login.projectId, 'openai', 'profile', PROVIDER_KEY)
    apiKey = (await login.client.me.issueKey('profile')).secret
    dp = await startProfiled(
      'dataplane/main.ts',
      {
        AGENTROUTER_DATA_DIR: tempDir(),
        AGENTROUTER_DP_LISTEN: '127.0.0.1:0',
        AGENTROUTER_CONTROL_PLANE_URL: started.url,
        AGENTROUTER_DATAPLANE_KEY: started.dataplaneKey,
        AGENTROUTER_UPSTREAM_OPENAI: upstream.url,
        AGENTROUTER_LOG_LEVEL: 'info',
      },
      'dataplane listening',
    )
  } else {
    dp = await startProfiled(
      'bench/bare-proxy.ts',
      { BENCH_UPSTREAM: upstream.url, BENCH_UPSTREAM_KEY: PROVIDER_KEY },
      'proxy listening',
    )
  }
  pin(dp.child.pid, cores?.subject)
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello.' }],
    ...(mode === 'sse' ? { stream: true } : {}),
  })
  const load = {
    url: `${dp.ready.url}/v1/chat/completions`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body,
    connections: 50,
  }
  await runLoad({ ...load, durationSec: 1 })
  const result = await runLoad({ ...load, durationSec: seconds })
  process.stdout.write(
    `${which} ${mode}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms\n`,
  )
  const file = await dp.stop()
  await cp?.stop()
  await upstream.stop()
  return file
}

async function profileControlPlane(what: 'cp-snapshot' | 'cp-writes'): Promise<string> {
  pin(process.pid, corePlan()?.load)
  const { cp, url, adminKey } = await startControlPlane(await dataDirWith1m())
  if (what === 'cp-snapshot') {
    const admin = new Client({ baseUrl: url, apiKey: adminKey, timeoutMs: 120_000 })
    const t0 = performance.now()
    await readPagedSnapshot(admin)
    process.stdout.write(`paged snapshot of 1M: ${Math.round(performance.now() - t0)} ms\n`)
  } else {
    const login = await loginThroughDevIdp(url, 'profile@example.com')
    const ids: string[] = []
    let next = 0
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < 300) ids.push((await login.client.me.issueKey('profile')).key.id)
      }),
    )
    const t1 = performance.now()
    next = 0
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < ids.length) await login.client.me.revokeKey(ids[next++]!)
      }),
    )
    const t2 = performance.now()
    process.stdout.write(
      `issue ${Math.round(300 / ((t1 - t0) / 1000))}/s, revoke ${Math.round(ids.length / ((t2 - t1) / 1000))}/s\n`,
    )
  }
  return cp.stop()
}

killTrackedOnExit()
const [scenario = 'dataplane', arg, seconds] = process.argv.slice(2)
const file =
  scenario === 'dataplane' || scenario === 'bare'
    ? await profileProxy(scenario, arg === 'sse' ? 'sse' : 'json', Number(seconds) || 10)
    : await profileControlPlane(scenario as 'cp-snapshot' | 'cp-writes')
process.stdout.write(`${file}\n\n${summarize(JSON.parse(readFileSync(file, 'utf8')), 30)}\n`)
