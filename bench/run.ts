/**
 * @module `npm run bench`: every benchmark family in turn, then the table and the JSON results.
 *
 *   npm run bench                      full run (≤ 5 minutes on 2 cores), bench/results/latest.json
 *   npm run bench -- --quick           smoke run (sizes and durations cut; figures not comparable),
 *                                      written to bench/results/quick/
 *   npm run bench -- --only auth,proxy one or more of: auth, proxy, revocation, fanout, scale (written to
 *                                      bench/results/partial/: only a full run replaces latest.json)
 *   npm run bench -- --out DIR         where the JSON goes
 *   npm run bench -- --markdown        also print the table as Markdown
 *
 * This process is the load generator; it pins itself to the load core (see lib/cpu.ts).
 */
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { benchAuth } from './auth.ts'
import { benchFanOut } from './fanout.ts'
import type { Budget } from './lib/budget.ts'
import { killTrackedOnExit } from './lib/cleanup.ts'
import { corePlan, describePinning, pin } from './lib/cpu.ts'
import { cpuModel } from './lib/machine.ts'
import { updateReadme } from './lib/readme-table.ts'
import { Report, type ResultFile } from './lib/report.ts'
import { REQUIRED_FIGURES } from './lib/required.ts'
import { renderMarkdown, renderTable } from './lib/table.ts'
import { benchProxy } from './proxy.ts'
import { benchRevocation } from './revocation.ts'
import { benchScale } from './scale.ts'

const FAMILIES = {
  auth: benchAuth,
  proxy: benchProxy,
  revocation: benchRevocation,
  fanout: benchFanOut,
  scale: benchScale,
} as const
type Family = keyof typeof FAMILIES

const RESULTS = new URL('./results/', import.meta.url).pathname
const README = new URL('../README.md', import.meta.url).pathname

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string' },
      markdown: { type: 'boolean', default: false },
    },
  })
  const budget: Budget = { quick: values.quick ?? false }
  const families = (values.only?.split(',') ?? Object.keys(FAMILIES)).map((f) => f.trim()) as Family[]
  for (const f of families) if (!(f in FAMILIES)) throw new Error(`--only: unknown family "${f}"`)
  const complete = families.length === Object.keys(FAMILIES).length
  // Only a full run of every family replaces latest.json (and the README's table).
  const out =
    values.out ?? (budget.quick ? join(RESULTS, 'quick') : complete ? RESULTS : join(RESULTS, 'partial'))

  pin(process.pid, corePlan()?.load)
  killTrackedOnExit()
  const log = (line: string) => process.stderr.write(`${line}\n`)
  log(
    `bench: ${budget.quick ? 'quick smoke run' : 'full run'} on ${cpus().length} × ${cpuModel()}, Node ${process.version}`,
  )
  log(`bench: ${describePinning()}`)

  const report = new Report()
  const failed: string[] = []
  const started = Date.now()
  for (const family of families) {
    const t0 = Date.now()
    log(`bench: ${family}…`)
    try {
      await FAMILIES[family](report, budget)
    } catch (err) {
      failed.push(family)
      log(`bench: ${family} failed: ${(err as Error).stack ?? err}`)
      report.section(family)
      report.missing(
        `${family}_*`,
        `the ${family} benchmark failed: ${(err as Error).message.split('\n')[0]}`,
      )
    }
    log(`bench: ${family} took ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }

  process.stdout.write(`\n${renderTable(report)}\n\n`)
  if (values.markdown) process.stdout.write(`${renderMarkdown(report)}\n\n`)
  const written = report.write(out)
  const produced = report.toFile().results
  const absent = complete ? REQUIRED_FIGURES.filter((n) => !(n in produced)) : []
  if (complete && !budget.quick && !values.out && failed.length === 0) {
    updateReadme(README, JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as ResultFile)
    log('bench: README.md Performance table updated')
  }
  log(`bench: ${((Date.now() - started) / 1000).toFixed(0)} s in all; wrote ${written.join(', ')}`)
  if (absent.length) log(`bench: required figures missing: ${absent.join(', ')}`)
  if (budget.quick) log('bench: quick run: sizes and durations are cut, do not compare these figures')
  return failed.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`)
    process.exit(2)
  },
)
