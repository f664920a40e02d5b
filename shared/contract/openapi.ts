/**
 * @module `/openapi.json`: the OpenAPI 3.1 document, generated from the route table.
 *
 * Every request and response body is a named component (`components.schemas`, the contract's
 * export names, `$ref`'d from the operations and from each other); a body whose input form
 * differs from its output form (a default, a transform) gets a second component, `<Name>Input`.
 * Each operation lists the error responses it can give, all with the contract's error body
 * (`Error`), chosen from what it takes and who may call it; `default` covers the rest.
 */
import { isDeepStrictEqual } from 'node:util'
import { z } from 'zod'
import { ERROR_HTTP_STATUS, type ErrorCode } from '../errors.ts'
import * as admin from './admin.ts'
import * as aikeys from './aikeys.ts'
import * as auth from './auth.ts'
import * as common from './common.ts'
import * as internal from './internal.ts'
import * as me from './me.ts'
import { type Persona, type RouteSpec, routes } from './routes.ts'
import * as secrets from './secrets.ts'
import * as tokens from './tokens.ts'

/** Who may call, in words: the OpenAPI descriptions and the README's endpoint table. */
export const PERSONA_TEXT: Record<Persona, string> = {
  public: 'Public (no credential)',
  session: 'Dashboard user (session token only)',
  authenticated: 'Authenticated (API key or session token)',
  admin: "Admin (admin key or an admin identity's session)",
  revocations: 'Admin or dataplane key',
  secret_value: 'Admin or dataplane key (secrets/read/internal scope)',
  dataplane: 'Dataplane key only',
}

type JsonSchema = Record<string, unknown>
type RouteId = keyof typeof routes

const SCHEMA_PREFIX = '#/components/schemas/'
const ERROR_SCHEMA = 'Error'

/** The named error responses (`components.responses`), one per code an operation may list. */
const ERROR_RESPONSES: Partial<Record<ErrorCode, { name: string; description: string }>> = {
  invalid_argument: {
    name: 'InvalidArgument',
    description: 'invalid_argument: a path, query or body field is wrong (details name it)',
  },
  unauthenticated: {
    name: 'Unauthenticated',
    description: 'unauthenticated: no credential, or one that is invalid, expired or revoked',
  },
  permission_denied: {
    name: 'PermissionDenied',
    description:
      "permission_denied: the credential is not of this endpoint's persona, or lacks the role or scope",
  },
  not_found: {
    name: 'NotFound',
    description: 'not_found: what the path names does not exist (or is not visible to the caller)',
  },
  resource_exhausted: {
    name: 'ResourceExhausted',
    description: 'resource_exhausted: too many requests; Retry-After says when to come back',
  },
  internal: { name: 'Internal', description: 'internal: an unexpected failure (logged; no detail is given)' },
  unavailable: {
    name: 'Unavailable',
    description: 'unavailable: a dependency (the identity provider) cannot be reached',
  },
}

/** Codes an operation gives beyond those its shape and persona imply. */
const EXTRA_ERRORS: Partial<Record<RouteId, ErrorCode[]>> = {
  login: ['resource_exhausted', 'unavailable'],
  callback: ['unavailable'],
}

/** The error codes an operation lists: by what it takes, who may call it, and `EXTRA_ERRORS`. */
export function errorCodes(id: string, spec: RouteSpec): ErrorCode[] {
  const codes = new Set<ErrorCode>()
  if (spec.params || spec.query || spec.body) codes.add('invalid_argument')
  if (spec.persona !== 'public') {
    codes.add('unauthenticated')
    codes.add('permission_denied')
  }
  if (spec.params) codes.add('not_found')
  for (const code of EXTRA_ERRORS[id as RouteId] ?? []) codes.add(code)
  codes.add('internal')
  return [...codes].sort((a, b) => ERROR_HTTP_STATUS[a] - ERROR_HTTP_STATUS[b])
}

const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema
  return rest
}

function parameters(spec: RouteSpec): JsonSchema[] {
  const out: JsonSchema[] = []
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue
    const json = toSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] }
    for (const [name, prop] of Object.entries(json.properties ?? {})) {
      out.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        schema: prop,
        ...(prop.description ? { description: prop.description } : {}),
      })
    }
  }
  return out
}

const pascal = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1)

/**
 * The component names: every object schema the contract modules export, by its export name, and
 * a route body or response that is not one of them by its operation (`<OperationId>Request`,
 * `<OperationId>Response`).
 */
function schemaNames(): Map<z.ZodType, string> {
  const names = new Map<z.ZodType, string>([[common.ErrorBodySchema, ERROR_SCHEMA]])
  for (const module of [common, me, aikeys, auth, secrets, tokens, admin, internal]) {
    for (const [name, value] of Object.entries(module)) {
      if (value instanceof z.ZodObject && !names.has(value)) names.set(value, name)
    }
  }
  for (const [id, spec] of Object.entries(routes) as [string, RouteSpec][]) {
    if (spec.body && !names.has(spec.body)) names.set(spec.body, `${pascal(id)}Request`)
    if (!names.has(spec.response)) names.set(spec.response, `${pascal(id)}Response`)
  }
  return names
}

function generate(
  names: Map<z.ZodType, string>,
  io: 'input' | 'output',
  rename: (name: string) => string = (n) => n,
): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>()
  for (const [schema, name] of names) registry.add(schema, { id: name })
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `${SCHEMA_PREFIX}${rename(id)}`,
  }) as { schemas: Record<string, JsonSchema> }
  const out: Record<string, JsonSchema> = {}
  for (const [name, schema] of Object.entries(schemas)) {
    // `$id` and `$schema` belong to a standalone document, not to a component.
    const { $id: _id, $schema: _schema, ...rest } = schema
    out[name] = rest
  }
  return out
}

/** Every `$ref` under `value`. */
function refs(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refs(v, into)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(SCHEMA_PREFIX)) {
        into.add(v.slice(SCHEMA_PREFIX.length))
      } else refs(v, into)
    }
  }
  return into
}

/**
 * The components, output forms under their names and input forms that differ under
 * `<Name>Input`; a schema whose input form refers to such a component differs too.
 */
function components(names: Map<z.ZodType, string>): {
  schemas: Record<string, JsonSchema>
  inputName: (name: string) => string
} {
  const output = generate(names, 'output')
  const plainInput = generate(names, 'input')
  const differs = new Set(Object.keys(plainInput).filter((n) => !isDeepStrictEqual(plainInput[n], output[n])))
  for (let grew = true; grew; ) {
    grew = false
    for (const [name, schema] of Object.entries(plainInput)) {
      if (differs.has(name)) continue
      if ([...refs(schema)].some((r) => differs.has(r))) {
        differs.add(name)
        grew = true
      }
    }
  }
  const inputName = (name: string) => (differs.has(name) ? `${name}Input` : name)
  const input = generate(names, 'input', inputName)
  const schemas = { ...output }
  for (const name of differs) schemas[inputName(name)] = input[name]!
  return { schemas, inputName }
}

/** Only what the operations reach: the contract also exports objects no body uses. */
function reachable(schemas: Record<string, JsonSchema>, roots: Iterable<string>): Record<string, JsonSchema> {
  const keep = new Set<string>()
  const queue = [...roots]
  while (queue.length > 0) {
    const name = queue.pop()!
    if (keep.has(name) || !schemas[name]) continue
    keep.add(name)
    queue.push(...refs(schemas[name]))
  }
  return Object.fromEntries(
    Object.entries(schemas)
      .filter(([n]) => keep.has(n))
      .sort(([a], [b]) => a.localeCompare(b)),
  )
}

const ref = (name: string): JsonSchema => ({ $ref: `${SCHEMA_PREFIX}${name}` })

/**
 * The document. `serverUrl`: the `servers` entry, `AGENTROUTER_PUBLIC_URL` when set, else the
 * origin the request came to (the control plane answers where it was reached).
 */
export function buildOpenApi(info: { version: string; serverUrl?: string | undefined }): JsonSchema {
  const names = schemaNames()
  const { schemas, inputName } = components(names)
  const paths: Record<string, Record<string, JsonSchema>> = {}
  const used = new Set<string>([ERROR_SCHEMA])
  for (const [operationId, spec] of Object.entries(routes) as [string, RouteSpec][]) {
    const responseName = names.get(spec.response)!
    if (!spec.responseType) used.add(responseName)
    const content = spec.responseType
      ? {
          [spec.responseType]: {
            schema: { type: 'string', format: 'binary', description: spec.response.description },
          },
        }
      : { 'application/json': { schema: ref(responseName) } }
    const responses: Record<string, JsonSchema> = { '200': { description: 'OK', content } }
    for (const code of errorCodes(operationId, spec)) {
      responses[String(ERROR_HTTP_STATUS[code])] = {
        $ref: `#/components/responses/${ERROR_RESPONSES[code]!.name}`,
      }
    }
    responses.default = { $ref: '#/components/responses/Error' }
    const op: JsonSchema = {
      operationId,
      tags: [spec.service],
      summary: spec.summary,
      description: `Persona: ${PERSONA_TEXT[spec.persona]}.${spec.cli ? ` CLI: \`${spec.cli}\`.` : ''}`,
      parameters: parameters(spec),
      responses,
      ...(spec.persona === 'public' ? { security: [] } : {}),
    }
    if (spec.body) {
      const bodyName = inputName(names.get(spec.body)!)
      used.add(bodyName)
      op.requestBody = { required: true, content: { 'application/json': { schema: ref(bodyName) } } }
    }
    paths[spec.path] ??= {}
    paths[spec.path]![spec.method.toLowerCase()] = op
  }
  const errorResponse = (description: string): JsonSchema => ({
    description,
    content: { 'application/json': { schema: ref(ERROR_SCHEMA) } },
  })
  const responses: Record<string, JsonSchema> = {}
  for (const { name, description } of Object.values(ERROR_RESPONSES))
    responses[name] = errorResponse(description)
  responses.Error = errorResponse(
    'Any other error, by its Connect-style code (the HTTP status follows the code)',
  )
  return {
    openapi: '3.1.0',
    info: {
      title: 'AgentRouter control plane',
      version: info.version,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (API keys as ak-<jwt>)' },
      },
      schemas: reachable(schemas, used),
      responses,
    },
  }
}
