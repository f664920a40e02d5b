/**
 * What is not text, fuzzed: `escapeNonText` leaves nothing a terminal acts on, `escapeJsonNonText`
 * keeps the JSON value while leaving nothing raw, and `firstNonText` finds what the contract
 * refuses while letting ordinary Unicode (accents, CJK, emoji with joiners) through.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { escapeJsonNonText, escapeNonText, firstNonText, isText, stripNonText } from '../../shared/text.ts'

/** Code points a terminal or a bidirectional renderer acts on. */
function isHostile(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    (code >= 0xd800 && code <= 0xdfff)
  )
}

function rawHostile(text: string, allowNewline = false): number[] {
  const out: number[] = []
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0
    if (isHostile(code) && !(allowNewline && ch === '\n')) out.push(code)
  }
  return out
}

function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0
    return s / 2 ** 32
  }
}

const POOL = [
  0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x41, 0x5c, 0x7f, 0x85, 0x9b, 0xa0, 0xe9, 0x061c, 0x200b, 0x200d,
  0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0x6771, 0xd800, 0xdc00, 0xfeff,
]

function randomString(next: () => number): string {
  let s = ''
  const length = Math.floor(next() * 12)
  for (let i = 0; i < length; i++) {
    s += next() < 0.2 ? '🚀' : String.fromCharCode(POOL[Math.floor(next() * POOL.length)]!)
  }
  return s
}

describe('text', () => {
  it('lets ordinary Unicode through', () => {
    for (const name of ['Café 東京 🚀', '👨‍👩‍👧 family', 'مرحبا', 'שלום', 'x\u200by', 'a\\x1b']) {
      assert.equal(firstNonText(name), undefined, name)
      assert.ok(isText(name))
      assert.equal(escapeNonText(name), name)
    }
  })

  it('finds each hostile character, and multi-line text allows newline and tab only', () => {
    for (const [value, found] of [
      ['\u001b[2J', 'U+001B'],
      ['a\u0000', 'U+0000'],
      ['a\u007f', 'U+007F'],
      ['\u009b1m', 'U+009B'],
      ['a\u202eb', 'U+202E'],
      ['a\u2066b', 'U+2066'],
      ['a\u200fb', 'U+200F'],
      ['a\u2028b', 'U+2028'],
      ['a\ud800', 'U+D800'],
      ['\udc00a', 'U+DC00'],
      ['a\nb', 'U+000A'],
    ] as const) {
      assert.equal(firstNonText(value), found, JSON.stringify(value))
    }
    assert.equal(firstNonText('a\nb\tc', true), undefined)
    assert.equal(firstNonText('a\r\nb', true), 'U+000D')
  })

  it('escapes (fuzzed): nothing hostile left, and the JSON form is the same value', () => {
    const next = random(3)
    for (let i = 0; i < 20_000; i++) {
      const s = randomString(next)
      assert.deepEqual(rawHostile(escapeNonText(s)), [], JSON.stringify(s))
      assert.deepEqual(rawHostile(escapeNonText(s, true).replace(/\t/g, ''), true), [], JSON.stringify(s))
      assert.deepEqual(rawHostile(stripNonText(s)), [], JSON.stringify(s))
      assert.equal(isText(s), rawHostile(s).length === 0, JSON.stringify(s))
      const json = escapeJsonNonText(JSON.stringify({ s, list: [s] }, null, 2))
      assert.deepEqual(rawHostile(json, true), [], json)
      assert.deepEqual(JSON.parse(json), { s, list: [s] })
    }
  })
})
