/**
 * @module What is not text in a name: characters a terminal, a log line or a bidirectional
 * renderer acts on instead of showing. The contract refuses them in names and labels; the CLI
 * escapes them in whatever it prints; OIDC profile names have them removed.
 *
 * Refused: C0 controls (U+0000–U+001F, which include NUL, ESC, CR, LF and tab), DEL (U+007F),
 * C1 controls (U+0080–U+009F, which include the 8-bit CSI U+009B), the bidirectional marks
 * (U+061C, U+200E, U+200F), embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
 * the line and paragraph separators (U+2028, U+2029) and unpaired surrogates. Joiners and
 * variation selectors stay: emoji sequences need them.
 */

/**
 * One class, written with escapes so the source holds no control character. No `u` flag: an
 * unpaired surrogate is a lone code unit, and only code-unit matching can see it.
 */
const NOT_TEXT_SOURCE =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028-\\u202e\\u2066-\\u2069]' +
  '|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]'
const NOT_TEXT = new RegExp(NOT_TEXT_SOURCE)
const NOT_TEXT_ALL = new RegExp(NOT_TEXT_SOURCE, 'g')
/** The same, less newline and tab: for multi-line text such as a description. */
const NOT_TEXT_MULTILINE = new RegExp(`(?![\\n\\t])(?:${NOT_TEXT_SOURCE})`)
const NOT_TEXT_MULTILINE_ALL = new RegExp(NOT_TEXT_MULTILINE.source, 'g')

/** What `JSON.stringify` leaves raw of the above: everything but C0 and unpaired surrogates. */
const LEFT_RAW_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

/** How the contract words the refusal. */
export const NOT_TEXT_MESSAGE =
  'must not contain control characters (U+0000–U+001F, U+007F–U+009F) or bidirectional controls'

/** The first character that is not text, as `U+XXXX`; `undefined` when all of it is text. */
export function firstNonText(value: string, multiline = false): string | undefined {
  const m = (multiline ? NOT_TEXT_MULTILINE : NOT_TEXT).exec(value)
  return m ? codePointName(m[0].charCodeAt(0)) : undefined
}

export function isText(value: string): boolean {
  return !NOT_TEXT.test(value)
}

/** `value` without the characters that are not text. */
export function stripNonText(value: string): string {
  return value.replace(NOT_TEXT_ALL, '')
}

/**
 * `value` with each character that is not text shown as a visible escape: `\x1b` up to U+00FF,
 * `\u{202e}` above. For a terminal, which would otherwise act on them. `multiline` keeps
 * newline and tab.
 */
export function escapeNonText(value: string, multiline = false): string {
  return value.replace(multiline ? NOT_TEXT_MULTILINE_ALL : NOT_TEXT_ALL, (c) => {
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u{${code.toString(16)}}`
  })
}

/**
 * JSON text with those characters as `\uXXXX` escapes. `JSON.stringify` escapes C0 and unpaired
 * surrogates already but leaves DEL, C1 and the bidirectional controls raw; outside strings JSON
 * is ASCII (its whitespace, newlines included, stays as it is), so this keeps the same JSON value.
 */
export function escapeJsonNonText(json: string): string {
  return json.replace(LEFT_RAW_BY_JSON, (c) => `\\u${hex(c.charCodeAt(0), 4)}`)
}

const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0')
const codePointName = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
