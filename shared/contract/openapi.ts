/**
 * @module `/openapi.json`: the OpenAPI 3.1 document, generated from the route table.
 */
import { z } from 'zod'
import { ErrorBodySchema } from './common.ts'
import { type Persona, type RouteSpec, routes } from './routes.ts'

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

export function buildOpenApi(info: { version: string; serverUrl?: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {}
  for (const [operationId, spec] of Object.entries(routes) as [string, RouteSpec][]) {
    const op: JsonSchema = {
      operationId,
      tags: [spec.service],
      summary: spec.summary,
      description: `Persona: ${PERSONA_TEXT[spec.persona]}.${spec.cli ? ` CLI: \`${spec.cli}\`.` : ''}`,
      parameters: parameters(spec),
      responses: {
        '200': {
          description: 'OK',
          content: { 'application/json': { schema: toSchema(spec.response, 'output') } },
        },
        default: {
          description: 'Error (Connect-style code)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
      ...(spec.persona === 'public' ? { security: [] } : {}),
    }
    if (spec.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: toSchema(spec.body, 'input') } },
      }
    }
    paths[spec.path] ??= {}
    paths[spec.path]![spec.method.toLowerCase()] = op
  }
  return {
    openapi: '3.1.0',
    info: { title: 'AgentRouter control plane', version: info.version },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (API keys as ak-<jwt>)' },
      },
      schemas: { Error: toSchema(ErrorBodySchema, 'output') },
    },
  }
}
