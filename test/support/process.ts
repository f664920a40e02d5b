/**
 * @module Starts a component (control plane or dataplane) as a real child process, the way an
 * operator would, waits for its "listening" log line, and keeps everything it printed so tests
 * can assert on the logs.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const REPO_ROOT = new URL('../../', import.meta.url).pathname

export interface StartedProcess {
  child: ChildProcess
  /** The "listening" log record. */
  ready: Record<string, unknown>
  /** Everything printed on stdout and stderr so far. */
  output(): string
  /** Resolves when the process has exited. */
  exited: Promise<number | null>
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>
  kill(signal?: NodeJS.Signals): void
}

export function tempDir(prefix = 'agentrouter-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function startProcess(
  entry: string,
  env: Record<string, string | undefined>,
  readyMessage: string,
  timeoutMs = 20_000,
): Promise<StartedProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const started: Omit<StartedProcess, 'ready'> = {
    child,
    output: () => output,
    exited,
    kill: (signal = 'SIGKILL') => {
      child.kill(signal)
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    },
  }
  return new Promise((resolve, reject) => {
    let pending = ''
    const timer = setTimeout(
      () => fail(new Error(`${entry} not ready after ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    )
    const fail = (err: Error) => {
      clearTimeout(timer)
      child.kill('SIGKILL')
      reject(err)
    }
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString()
      output += text
      pending += text
      let nl = pending.indexOf('\n')
      while (nl >= 0) {
        const line = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        nl = pending.indexOf('\n')
        try {
          const record = JSON.parse(line) as Record<string, unknown>
          if (record.msg === readyMessage) {
            clearTimeout(timer)
            resolve({ ...started, ready: record })
          }
        } catch {
          // not a log record
        }
      }
    })
    child.once('exit', (code) =>
      fail(new Error(`${entry} exited with ${code} before it was ready:\n${output}`)),
    )
  })
}
