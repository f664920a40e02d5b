/**
 * The copies of the API documents in test/fixtures/documents/ are the documents: on a machine
 * that has the team's guide folder beside the repository, each copy must be byte-identical.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { DOCUMENTS_DIR, SEEDS_DIR, seedEndpoints } from './support/documents.ts'
import { REPO_ROOT } from './support/process.ts'

const GUIDE = join(REPO_ROOT, '..', 'shared')

describe('the API documents used as test data', () => {
  it('hold all 19 documented endpoints', () => {
    assert.equal(seedEndpoints().length, 19)
  })

  it('are identical to the guide folder’s documents, where it exists', {
    skip: !existsSync(join(GUIDE, 'api.md')),
  }, () => {
    assert.equal(
      readFileSync(join(DOCUMENTS_DIR, 'api.md'), 'utf8'),
      readFileSync(join(GUIDE, 'api.md'), 'utf8'),
    )
    const originals = readdirSync(join(GUIDE, 'seeds')).sort()
    assert.deepEqual(readdirSync(SEEDS_DIR).sort(), originals)
    for (const file of originals) {
      assert.equal(
        readFileSync(join(SEEDS_DIR, file), 'utf8'),
        readFileSync(join(GUIDE, 'seeds', file), 'utf8'),
        file,
      )
    }
  })
})
