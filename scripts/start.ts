/**
 * @module `npm start`: the whole product on one machine with embedded defaults. Starts the
 * control plane (which runs the development IdP when no issuer is configured and writes the
 * bootstrap keys), then a dataplane that uses the dataplane key from the data directory. Each is
 * its own process, exactly as `npm run control-plane` and `npm run dataplane` start them; this
 * launcher only wires them together and forwards signals.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { helpText } from '../shared/component.ts'
import { duration, HELP_FLAGS } from '../shared/config.ts'
import { CONTROL_PLANE_VARIABLES, DATAPLANE_VARIABLES } from '../shared/variables.ts'

const root = new URL('../', import.meta.url).pathname

// Both components get the same environment and flags: --help lists what each reads.
if (process.argv.slice(2).some((arg) => HELP_FLAGS.includes(arg))) {
  process.stdout.write(
    `npm start runs both components with one environment and the same flags.\n\n${helpText('control-plane', CONTROL_PLANE_VARIABLES)}\n${helpText('dataplane', DATAPLANE_VARIABLES)}`,
  )
  process.exit(0)
}
const children: ChildProcess[] = []

/**
 * A component failing to start has said why on stderr, in one line; an address in use there
 * most often means an earlier `npm start` is still running, which only this launcher can say.
 */
function launch(entry: string, env: NodeJS.ProcessEnv, ready: string): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, entry), ...process.argv.slice(2)], {
    cwd: process.cwd(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const busy = /: the address is already in use$/.test(line)
    process.stderr.write(busy ? `${line}: another instance (npm start) may be running\n` : `${line}\n`)
  })
  return new Promise((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      process.stdout.write(`${line}\n`)
      try {
        const record = JSON.parse(line) as Record<string, unknown>
        if (record.msg === ready) resolve(record)
      } catch {
        // not a log record
      }
    })
    // Exiting before it is ready stops everything; the child has already said why.
    child.once('exit', (code) => shutdown(code ?? 1))
  })
}

/** The children drain requests in flight this long on shutdown; this launcher waits a bit more. */
function drainTimeoutMs(): number {
  try {
    return duration(process.env, 'AGENTROUTER_DRAIN_TIMEOUT', 30_000)
  } catch {
    return 30_000 // the children refuse the value themselves
  }
}

let stopping = false
function shutdown(code: number): void {
  if (stopping) return
  stopping = true
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
  setTimeout(() => process.exit(code), drainTimeoutMs() + 10_000).unref()
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(
    () => process.exit(code),
  )
}
process.on('SIGINT', () => shutdown(0))
process.on('SIGTERM', () => shutdown(0))

const cp = await launch('control-plane/main.ts', process.env, 'control plane listening')
const dataplaneKey =
  process.env.AGENTROUTER_DATAPLANE_KEY ?? readFileSync(cp.dataplane_key_file as string, 'utf8').trim()
const dp = await launch(
  'dataplane/main.ts',
  {
    ...process.env,
    AGENTROUTER_CONTROL_PLANE_URL: process.env.AGENTROUTER_CONTROL_PLANE_URL ?? (cp.url as string),
    AGENTROUTER_DATAPLANE_KEY: dataplaneKey,
  },
  'dataplane listening',
)
const adminKeyFile = cp.bootstrap_admin_key_file as string
process.stdout.write(
  [
    '',
    'AgentRouter is running:',
    `  control plane   ${cp.url}   (OpenAPI: ${cp.url}/openapi.json)`,
    `  dataplane       ${dp.url}`,
    `    OpenAI SDK    baseURL ${dp.url}/openai/v1`,
    `    Anthropic SDK baseURL ${dp.url}/anthropic`,
    cp.dev_idp ? `  development IdP ${cp.dev_idp}   (any login, any password)` : undefined,
    `  admin key file  ${adminKeyFile}`,
    '',
    'Next (README, Quick start), in a second terminal:',
    `  export AGENTROUTER_BASE_URL=${cp.url}`,
    '  npx tare api login',
    // Exported, the admin key would take precedence over the session `tare api login` stores.
    'Admin commands take the bootstrap key for that one command, not exported:',
    `  AGENTROUTER_API_KEY=$(cat ${adminKeyFile}) npx tare api admin …`,
    `Ctrl-C stops both; streams in flight get ${drainTimeoutMs() / 1000}s to finish (AGENTROUTER_DRAIN_TIMEOUT).`,
    '',
  ]
    .filter((l) => l !== undefined)
    .join('\n'),
)
