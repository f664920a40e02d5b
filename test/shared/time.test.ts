/**
 * Timestamps on the wire, fuzzed: every microsecond the system can hold prints as strict RFC 3339
 * and parses back to itself; anything `parseMicros` accepts prints back as the same instant; and
 * nothing outside the range (before 1970, past the last exact microsecond) is read or printed.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatMicros, MAX_MICROS, parseMicros } from '../../shared/time.ts'

const WIRE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

/** A deterministic generator, so a failure names a reproducible case. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0
    return s / 2 ** 32
  }
}

describe('formatMicros and parseMicros', () => {
  it('round-trip every microsecond from the epoch to MAX_MICROS (fuzzed, with both ends)', () => {
    const next = random(9)
    const samples = [0, 1, 999_999, 1_000_000, MAX_MICROS, MAX_MICROS - 1, 951_782_400_000_000]
    for (let i = 0; i < 20_000; i++) samples.push(Math.floor(next() * next() * MAX_MICROS))
    for (const micros of samples) {
      const text = formatMicros(micros)
      assert.match(text, WIRE, `${micros}`)
      assert.equal(parseMicros(text), micros, `${micros} → ${text}`)
    }
    assert.equal(formatMicros(MAX_MICROS), '2255-06-05T23:47:34.740991Z')
  })

  it('prints whatever it parses as the same instant, in the strict form', () => {
    const next = random(10)
    const pad = (n: number, w: number) => String(n).padStart(w, '0')
    let parsed = 0
    for (let i = 0; i < 20_000; i++) {
      // Half the years near the range's ends, half anywhere a four-digit year can be.
      const y = next() < 0.5 ? 1960 + Math.floor(next() * 300) : Math.floor(next() * 10_000)
      const mo = Math.floor(next() * 14)
      const d = Math.floor(next() * 33)
      const h = Math.floor(next() * 25)
      const mi = Math.floor(next() * 61)
      const s = Math.floor(next() * 61)
      const fraction =
        next() < 0.5 ? '' : `.${pad(Math.floor(next() * 1e9), 9).slice(0, 1 + Math.floor(next() * 9))}`
      const zone =
        next() < 0.5
          ? 'Z'
          : `${next() < 0.5 ? '+' : '-'}${pad(Math.floor(next() * 25), 2)}:${pad(Math.floor(next() * 61), 2)}`
      const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${fraction}${zone}`
      const micros = parseMicros(text)
      if (micros === undefined) continue
      parsed++
      assert.ok(Number.isSafeInteger(micros) && micros >= 0 && micros <= MAX_MICROS, text)
      const printed = formatMicros(micros)
      assert.match(printed, WIRE, text)
      assert.equal(parseMicros(printed), micros, `${text} → ${printed}`)
      assert.equal(Date.parse(printed), Math.floor(micros / 1000), `${text} is the instant Date reads`)
    }
    assert.ok(parsed > 1000, `enough valid samples (${parsed})`)
  })

  it('refuses what it could not print back', () => {
    for (const text of [
      '10000-01-01T00:00:00Z',
      '+010000-01-01T00:00:00Z',
      '-000001-01-01T00:00:00Z',
      '0000-00-00T00:00:00Z',
      '1969-12-31T23:59:59.999999Z',
      '1970-01-01T00:00:00+00:01',
      '2255-06-05T23:47:34.740992Z',
      '9999-12-31T23:59:59.999999Z',
    ]) {
      assert.equal(parseMicros(text), undefined, text)
    }
    assert.equal(parseMicros('1970-01-01T00:00:00Z'), 0)
    assert.equal(parseMicros('1970-01-01T01:00:00+01:00'), 0)
  })

  it('never prints a negative or six-digit year: out of range prints the nearest end', () => {
    for (const micros of [-1, -1e18, Number.MIN_SAFE_INTEGER, -Infinity]) {
      assert.equal(formatMicros(micros), '1970-01-01T00:00:00.000000Z', `${micros}`)
    }
    for (const micros of [MAX_MICROS + 1, 1e20, Infinity]) {
      assert.equal(formatMicros(micros), '2255-06-05T23:47:34.740991Z', `${micros}`)
    }
    assert.equal(formatMicros(1.7), '1970-01-01T00:00:00.000001Z', 'a fraction of a microsecond is dropped')
    assert.throws(() => formatMicros(Number.NaN), RangeError)
  })
})
