/**
 * @module The real `tare` binary (cli/tare.mjs) as a child process, with its own config
 * directory and only the environment a test gives it: run to completion, or start and watch
 * its output (for `tare api login`, which waits for a browser).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { Browser } from './browser.ts'
import { REPO_ROOT, tempDir } from './process.ts'

export const TARE_BIN = join(REPO_ROOT, 'cli/tare.mjs')

export interface TareEnv {
  baseUrl?: string
  apiKey?: string
  /** XDG_CONFIG_HOME: where the session is stored. */
  configHome?: string
  extra?: Record<string, string>
}

export interface TareResult {
  code: number | null
  stdout: string
  stderr: string
}

function environment(env: TareEnv): Record<string, string> {
  const out: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: env.configHome ?? tempDir('tare-home-'),
    XDG_CONFIG_HOME: env.configHome ?? tempDir('tare-config-'),
  }
  if (env.baseUrl) out.AGENTROUTER_BASE_URL = env.baseUrl
  if (env.apiKey) out.AGENTROUTER_API_KEY = env.apiKey
  return { ...out, ...env.extra }
}

export interface RunningTare {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the first match of `pattern` in stderr + stdout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  done: Promise<TareResult>
}

/** `stdin`: written and ended; `{ open: true }`: left open for the test to write to `child.stdin`. */
export function startTare(args: string[], env: TareEnv = {}, stdin?: string | { open: true }): RunningTare {
  const child = spawn(process.execPath, [TARE_BIN, ...args], {
    cwd: REPO_ROOT,
    env: environment(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  const changed = () => {
    for (const l of listeners) l()
  }
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString()
    changed()
  })
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString()
    changed()
  })
  if (typeof stdin !== 'object') child.stdin!.end(stdin ?? '')
  const done = new Promise<TareResult>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  )
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (stderr + stdout).match(pattern)
          if (!m) return false
          listeners.delete(check)
          clearTimeout(timer)
          resolve(m)
          return true
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`tare printed no ${pattern} in ${timeoutMs} ms:\n${stderr}${stdout}`))
        }, timeoutMs)
        listeners.add(check)
        if (check()) return
        void done.then(() => {
          if (check()) return
          listeners.delete(check)
          clearTimeout(timer)
          reject(new Error(`tare exited without printing ${pattern}:\n${stderr}${stdout}`))
        })
      })
    },
  }
}

/** Runs `tare args…` to completion. */
export function tare(args: string[], env: TareEnv = {}, stdin?: string): Promise<TareResult> {
  return startTare(args, env, stdin).done
}

/** Runs `tare args… --json`, expects exit 0, and parses stdout. */
export async function tareJson<T = Record<string, unknown>>(
  args: string[],
  env: TareEnv = {},
  stdin?: string,
): Promise<T> {
  const r = await tare([...args, '--json'], env, stdin)
  if (r.code !== 0) throw new Error(`tare ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`)
  return JSON.parse(r.stdout) as T
}

/**
 * `tare api login --no-browser` played through the development IdP the way a person would:
 * reads the authorization URL the CLI prints, signs in as `login`, and lets the browser land on
 * the CLI's loopback listener. Resolves with the CLI's result and the page the browser got.
 */
export async function tareLogin(
  env: TareEnv,
  login: string,
  extraArgs: string[] = [],
): Promise<{ result: TareResult; authorizationUrl: string; redirectUri: string; landing: Response }> {
  const running = startTare(['api', 'login', '--no-browser', ...extraArgs], env)
  const [authorizationUrl] = await running.waitFor(/http:\/\/\S+\/auth\?\S+/)
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? ''
  const browser = new Browser()
  const { code, state } = await browser.authorize(authorizationUrl, redirectUri, login)
  // The last hop, which Browser.authorize leaves to the caller: the loopback redirect.
  const landing = await browser.request(`${redirectUri}?${new URLSearchParams({ code, state })}`)
  return { result: await running.done, authorizationUrl, redirectUri, landing }
}
