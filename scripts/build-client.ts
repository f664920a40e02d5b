/**
 * @module `npm run build` (and `npm pack`, through `prepack`): the client package's `dist/`, the
 * compiled JavaScript and declarations of `shared/client/index.ts` and what it imports
 * (tsconfig.build.json), from a clean directory so no stale file is packed.
 *
 * tsc rewrites the sources' `./x.ts` imports to `./x.js` in JavaScript but leaves them as `.ts` in
 * declarations; TypeScript 5 resolves those, older consumers do not, so they are rewritten here.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const root = new URL('../', import.meta.url).pathname
const dist = join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
})
if (build.status !== 0) process.exit(build.status ?? 1)

const RELATIVE_TS = /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g
for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue
  const path = join(dist, file)
  const text = readFileSync(path, 'utf8')
  const rewritten = text.replace(RELATIVE_TS, '$1$2$3.js$2')
  if (rewritten !== text) writeFileSync(path, rewritten)
}
