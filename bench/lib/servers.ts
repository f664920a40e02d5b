/**
 * @module Starting the processes a benchmark talks to, each pinned to its core: our own Node
 * scripts (upstream, bare proxy) through the tests' process launcher, Portkey's gateway from its
 * npm package, and nginx from a generated configuration in a temporary directory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { REPO_ROOT, startProcess, tempDir } from '../../test/support/process.ts'
import { track, untrack } from './cleanup.ts'
import { pin } from './cpu.ts'

export interface Server {
  url: string
  pid: number | undefined
  stop(): Promise<void>
}

/** Starts `node --import tsx <entry>` and waits for its `{"msg": readyMessage, "url"}` line. */
export async function startScript(
  entry: string,
  env: Record<string, string>,
  readyMessage: string,
  core: number | undefined,
): Promise<Server> {
  const proc = await startProcess(entry, env, readyMessage)
  track(proc.child.pid)
  pin(proc.child.pid, core)
  return {
    url: proc.ready.url as string,
    pid: proc.child.pid,
    async stop() {
      await proc.stop()
      untrack(proc.child.pid)
    },
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

export async function waitForHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms: ${err}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

function spawned(child: ChildProcess, url: string): Server {
  track(child.pid)
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      untrack(child.pid)
      resolve()
    }),
  )
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
      await exited
      clearTimeout(timer)
    },
  }
}

export const PORTKEY_ENTRY = join(REPO_ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js')
const PORTKEY_STREAM_FIX = join(REPO_ROOT, 'bench/portkey-stream-fix.mjs')

/**
 * Portkey's open-source gateway as its package's `bin` starts it (`build/start-server.js
 * --port=N --headless`). Requests name the upstream with `x-portkey-custom-host`.
 */
export async function startPortkey(core: number | undefined): Promise<Server> {
  const port = await freePort()
  let output = ''
  const child = spawn(
    process.execPath,
    ['--import', PORTKEY_STREAM_FIX, PORTKEY_ENTRY, `--port=${port}`, '--headless'],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const keep = (d: Buffer) => {
    if (output.length < 64 * 1024) output += d.toString()
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  pin(child.pid, core)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(url)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`Portkey's gateway did not start: ${(err as Error).message}\n${output.slice(-2000)}`)
  }
  return spawned(child, url)
}

export function nginxPath(): string | undefined {
  for (const candidate of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' })
      return candidate
    } catch {
      // not this one
    }
  }
  return undefined
}

/**
 * nginx as a reverse proxy in front of `upstream`, one worker, keep-alive to the upstream,
 * unbuffered (so SSE streams through), injecting the provider key. It runs in the foreground
 * from a temporary prefix on a loopback port: no root, no system configuration.
 */
export async function startNginx(
  bin: string,
  upstream: string,
  providerKey: string,
  core: number | undefined,
): Promise<Server> {
  const prefix = tempDir('agentrouter-bench-nginx-')
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d))
  const port = await freePort()
  const upstreamHost = new URL(upstream).host
  const isRoot = process.getuid?.() === 0
  const conf = `
${isRoot ? 'user nobody nogroup;' : ''}
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 1000000;
  upstream llm { server ${upstreamHost}; keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://llm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer ${providerKey}";
      proxy_set_header X-Api-Key "";
      proxy_buffering off;
      proxy_request_buffering on;
    }
  }
}
`
  const confPath = join(prefix, 'nginx.conf')
  writeFileSync(confPath, conf)
  let output = ''
  const args = ['-p', prefix, '-c', confPath, '-e', 'stderr']
  // Pinned at exec, so the worker it forks inherits the core.
  const child =
    core === undefined
      ? spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('taskset', ['-c', String(core), bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(url, 10_000)
  } catch (err) {
    child.kill('SIGKILL')
    throw new Error(`nginx did not start: ${(err as Error).message}\n${output.slice(-2000)}`)
  }
  return spawned(child, url)
}
