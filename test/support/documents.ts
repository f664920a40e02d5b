/**
 * @module The API documents the project implements, read as test data from the copies in
 * `test/fixtures/documents/`: every endpoint of the seeds with its curl line and examples, and
 * the contract's text.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from './process.ts'

export const DOCUMENTS_DIR = join(REPO_ROOT, 'test', 'fixtures', 'documents')
export const SEEDS_DIR = join(DOCUMENTS_DIR, 'seeds')

export interface SeedFile {
  name: string
  content: string
}

/** One documented endpoint: a JSON line of a seed document. */
export interface SeedEndpoint {
  seed: string
  slug: string
  verb: string
  path: string
  persona: string
  curl: string
  typescript: SeedFile[]
}

interface SeedLine {
  slug: string
  httpVerb: string
  httpPath: string
  persona: string
  examples: { curl: string; typescript: { files: SeedFile[] } }
}

export function seedEndpoints(): SeedEndpoint[] {
  const out: SeedEndpoint[] = []
  for (const seed of readdirSync(SEEDS_DIR)
    .filter((f) => /^\d{3}_.*\.txt$/.test(f))
    .sort()) {
    for (const line of readFileSync(join(SEEDS_DIR, seed), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue
      const doc = JSON.parse(line) as SeedLine
      out.push({
        seed,
        slug: doc.slug,
        verb: doc.httpVerb,
        path: doc.httpPath,
        persona: doc.persona,
        curl: doc.examples.curl,
        typescript: doc.examples.typescript.files,
      })
    }
  }
  return out
}

/** The contract, `api.md`. */
export function contractText(): string {
  return readFileSync(join(DOCUMENTS_DIR, 'api.md'), 'utf8')
}
