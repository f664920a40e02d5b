/**
 * @module Signing material for the in-process auth benchmarks: a key pair per algorithm the
 * verifier accepts, tokens with exactly the claims the control plane's `TokenIssuer` writes
 * (signed with `jose`, as the control plane signs), the public JWKS to load into the real
 * `TokenVerifier`, and the raw pieces (signing input, signature, key) for the `crypto.verify`
 * floor.
 */
import { KeyObject } from 'node:crypto'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_ISSUER, type TokenClaims } from '../../shared/tokens/claims.ts'

export const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const
export type Algorithm = (typeof ALGORITHMS)[number]

export interface SigningKey {
  alg: Algorithm
  kid: string
  privateKey: Parameters<SignJWT['sign']>[0]
  publicKey: KeyObject
  jwk: JWK
}

export async function generateSigningKey(alg: Algorithm): Promise<SigningKey> {
  const pair = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {})
  const kid = `bench-${alg.toLowerCase()}`
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' }
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    publicKey: KeyObject.from(pair.publicKey),
    jwk,
  }
}

let serial = 0

/** A token shaped like a `KEY_TYPE_PROMPT` API key the control plane issues (without `ak-`). */
export async function signToken(key: SigningKey, jti = nextJti()): Promise<string> {
  const iat = Math.floor(Date.now() / 1000)
  const claims: TokenClaims = {
    iss: DEFAULT_TOKEN_ISSUER,
    aud: DEFAULT_TOKEN_AUDIENCE,
    sub: 'usr_01JBENCHIDENTITY0000000000',
    jti,
    iat,
    nbf: iat,
    exp: iat + 86_400,
    use: 'api_key',
    scope: 'inference account',
    kt: 'KEY_TYPE_PROMPT',
    cid: 'cust_01JBENCHCUSTOMER000000000',
    pid: 'proj_01JBENCHPROJECT0000000000',
  }
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey)
}

export async function signTokens(key: SigningKey, count: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < count; i++) out.push(await signToken(key))
  return out
}

/** A JTI of the shape the control plane issues: `key_` + a 26-character ULID. */
export function nextJti(): string {
  return fillerJti(serial++, 1)
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/**
 * The `i`-th of a family of distinct JTIs shaped exactly like the control plane's (`key_` + a
 * ULID in Crockford base32), for filling revocation sets and the revocation log: the
 * dataplane's set stores that shape compactly and anything else in a fallback, so the shape
 * decides which structure is measured.
 */
export function fillerJti(i: number, family = 0): string {
  let digits = ''
  for (let n = i; digits.length < 21; n = Math.floor(n / 32)) digits = CROCKFORD[n % 32] + digits
  return `key_01JB${CROCKFORD[family]}${digits}`
}

export interface RawVerifyInput {
  signed: Buffer
  signature: Buffer
  key: KeyObject
  digest: string | null
  dsaEncoding?: 'ieee-p1363'
}

/** The pieces `crypto.verify` needs for a token, already decoded: the floor does only the verify. */
export function rawVerifyInput(token: string, key: SigningKey): RawVerifyInput {
  const dot = token.lastIndexOf('.')
  return {
    signed: Buffer.from(token.slice(0, dot), 'latin1'),
    signature: Buffer.from(token.slice(dot + 1), 'base64url'),
    key: key.publicKey,
    digest: key.alg === 'EdDSA' ? null : 'sha256',
    ...(key.alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  }
}
