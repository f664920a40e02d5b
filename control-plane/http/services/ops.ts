/**
 * @module Operations: liveness, readiness, Prometheus metrics and the OpenAPI document.
 */
import type { Hono } from 'hono'
import { buildOpenApi } from '../../../shared/contract/openapi.ts'
import type { Services } from '../../services.ts'
import { databaseOk } from '../../store/db.ts'

export function opsRoutes(app: Hono, s: Services, version: string): void {
  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/readyz', async (c) => {
    const checks = {
      database: await databaseOk(s.db),
      signing_key: s.keyRing.publishedKeys().length > 0,
    }
    const ready = Object.values(checks).every(Boolean)
    return c.json({ ready, checks }, ready ? 200 : 503)
  })

  app.get('/metrics', async (c) => {
    c.header('content-type', s.metrics.registry.contentType)
    return c.body(await s.metrics.registry.metrics())
  })

  // `servers` names AGENTROUTER_PUBLIC_URL when set, else the origin this request came to (its
  // Host was checked by the server); the rest of the document is built once.
  let openapi: Record<string, unknown> | undefined
  app.get('/openapi.json', (c) => {
    openapi ??= buildOpenApi({ version })
    const servers = [{ url: s.config.publicUrl ?? new URL(c.req.url).origin }]
    return c.json({ ...openapi, servers })
  })
}
