/**
 * @module Prefixed ULIDs: every object id says what it names (`key_01J…`, `byok_01J…`).
 */
import { monotonicFactory } from 'ulid'

export const ID_PREFIX = {
  customer: 'cust_',
  project: 'proj_',
  identity: 'usr_',
  apiKey: 'key_',
  session: 'ses_',
  aiKey: 'byok_',
  secret: 'sec_',
  kek: 'kek_',
  dataplane: 'dp_',
} as const

export type IdKind = keyof typeof ID_PREFIX

const nextUlid = monotonicFactory()
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/

export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + nextUlid()
}

/** True when `value` is a well-formed id of the given kind. */
export function isId(kind: IdKind, value: string): boolean {
  const prefix = ID_PREFIX[kind]
  return value.startsWith(prefix) && ULID.test(value.slice(prefix.length))
}
