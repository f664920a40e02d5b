/**
 * @module Timestamps on the wire: RFC 3339 in UTC with microsecond precision
 * (`2026-11-24T19:15:52.123456Z`). Inside the system a timestamp is an integer count of
 * microseconds since the epoch, which stays exact in a double until the year 2255.
 *
 * So the timestamps this system reads and writes are those from the epoch to the last exact
 * microsecond, `MAX_MICROS`: `parseMicros` refuses anything outside (a cursor outside could not
 * be printed back as the same instant, or as RFC 3339 at all), and `formatMicros` never prints
 * outside it, so every cursor the API answers with parses back to itself.
 */

/** The last microsecond a double holds exactly: 2255-06-05T23:47:34.740991Z. */
export const MAX_MICROS = Number.MAX_SAFE_INTEGER
/** The range, in words, for error messages. */
export const TIMESTAMP_RANGE = 'between 1970-01-01T00:00:00Z and 2255-06-05T23:47:34.740991Z'

const RFC3339 = /^((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2}))(?:\.(\d{1,9}))?(Z|[+-](\d{2}):(\d{2}))$/

/** Microseconds since the epoch: the wall clock at start-up plus the monotonic clock since. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000)
}

/** `YYYY-MM-DDT` by day number: a revocation list formats two timestamps per row, a million rows. */
const dayPrefixes = new Map<number, string>()
const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))

function dayPrefix(day: number): string {
  let prefix = dayPrefixes.get(day)
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4096) dayPrefixes.clear()
    prefix = new Date(day * 86_400_000).toISOString().slice(0, 11)
    dayPrefixes.set(day, prefix)
  }
  return prefix
}

/**
 * Prints microseconds as RFC 3339. Out of range, it prints the nearest end of the range (an
 * expiry computed past 2255 reads as 2255), never a negative year or a six-digit one.
 */
export function formatMicros(micros: number): string {
  if (!(micros >= 0 && micros <= MAX_MICROS && Number.isInteger(micros))) micros = clampMicros(micros)
  const second = Math.floor(micros / 1_000_000)
  const day = Math.floor(second / 86_400)
  const inDay = second - day * 86_400
  const h = Math.floor(inDay / 3600)
  const m = Math.floor((inDay - h * 3600) / 60)
  const fraction = String(micros - second * 1_000_000).padStart(6, '0')
  return `${dayPrefix(day)}${TWO_DIGITS[h]}:${TWO_DIGITS[m]}:${TWO_DIGITS[inDay - h * 3600 - m * 60]}.${fraction}Z`
}

function clampMicros(micros: number): number {
  if (Number.isNaN(micros)) throw new RangeError('formatMicros: NaN is not a timestamp')
  return Math.min(Math.max(Math.floor(micros), 0), MAX_MICROS)
}

/**
 * Parses an RFC 3339 timestamp to microseconds; `undefined` when it is not one, or is outside
 * the epoch to `MAX_MICROS`.
 */
export function parseMicros(text: string): number | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [, base, y, mo, d, h, mi, sec, fraction = '', zone, zh = '0', zm = '0'] = m.map((v) => v ?? '')
  // Date.parse rolls impossible dates over (Feb 30 becomes Mar 2): refuse them instead.
  const month = Number(mo)
  if (month < 1 || month > 12 || Number(d) < 1 || Number(d) > daysInMonth(Number(y), month)) return undefined
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59 || Number(zh) > 23 || Number(zm) > 59) {
    return undefined
  }
  const ms = Date.parse(`${base}${zone}`)
  if (Number.isNaN(ms)) return undefined
  const micros = ms * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6))
  return micros >= 0 && micros <= MAX_MICROS ? micros : undefined
}

function daysInMonth(year: number, month: number): number {
  const last = new Date(0)
  last.setUTCFullYear(year, month, 0)
  return last.getUTCDate()
}
