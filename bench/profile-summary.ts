/**
 * @module Summarises a `node --cpu-prof` profile: the functions with the most self time, and the
 * inclusive share of each file (what a module costs with everything it calls). Used to say what
 * limits a benchmark figure.
 *
 * Run: `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]`
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export function summarize(profile: Profile, top = 25): string {
  const selfUs = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const byFunction = new Map<string, number>()
  const byFile = new Map<string, number>()
  const ownInclusive = new Map<string, number>()
  const parent = new Map<number, ProfileNode>()
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node)
  let total = 0
  let idle = 0
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0
    total += us
    const { functionName, url, lineNumber } = node.callFrame
    if (functionName === '(idle)') {
      idle += us
      continue
    }
    const fn = `${functionName || '(anonymous)'} ${shorten(url) || '(native)'}${url ? `:${lineNumber + 1}` : ''}`
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
    // Inclusive by file: each sample counts once for every file on its stack; and the same for
    // each of the project's own functions (not node_modules, not node:).
    const seen = new Set<string>()
    for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
      const file = shorten(n.callFrame.url)
      if (!file) continue
      if (!seen.has(file)) {
        seen.add(file)
        byFile.set(file, (byFile.get(file) ?? 0) + us)
      }
      if (file.startsWith('node') || file.startsWith('file:') || file.startsWith('wasm')) continue
      const key = `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      ownInclusive.set(key, (ownInclusive.get(key) ?? 0) + us)
    }
  }
  const busy = total - idle
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
  const lines = [
    `busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled (idle excluded from shares)`,
    '',
    'self time by function:',
    ...rank(byFunction).map(([k, us]) => `${pct(us)}  ${k}`),
    '',
    'total time by file (self + callees; a sample counts for every file on its stack):',
    ...rank(byFile).map(([k, us]) => `${pct(us)}  ${k}`),
    '',
    "total time of the project's own functions (self + callees):",
    ...rank(ownInclusive).map(([k, us]) => `${pct(us)}  ${k}`),
  ]
  return lines.join('\n')
}

const REPO = new URL('../', import.meta.url).href

function shorten(url: string): string {
  const i = url.indexOf('/node_modules/')
  if (i >= 0) return url.slice(i + 1)
  return url.startsWith(REPO) ? url.slice(REPO.length) : url.replace(/^file:\/\//, '')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, top] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: profile-summary <file.cpuprofile> [top]\n')
    process.exit(2)
  }
  process.stdout.write(`${summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top) || 25)}\n`)
}
