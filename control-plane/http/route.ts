/**
 * @module Binds one entry of the route table to a handler: authenticates, checks the persona,
 * validates path, query and body with the route's schemas, and answers with JSON. Handlers see
 * only valid input and a principal with the right persona.
 */
import type { Context, Hono } from 'hono'
import type { z } from 'zod'
import { type RouteId, type RouteSpec, routes } from '../../shared/contract/routes.ts'
import { parseOrThrow } from '../../shared/contract/validate.ts'
import { ApiError, invalidArgument } from '../../shared/errors.ts'
import { type Actor, setActor } from '../audit/request-context.ts'
import { Authenticator } from './authenticate.ts'
import { type Principal, requirePersona } from './principal.ts'

type Out<S> = S extends z.ZodType ? z.output<S> : undefined
type Spec<R extends RouteId> = (typeof routes)[R]

export interface RouteInput<R extends RouteId> {
  params: Out<Spec<R> extends { params: infer P } ? P : undefined>
  query: Out<Spec<R> extends { query: infer Q } ? Q : undefined>
  body: Out<Spec<R> extends { body: infer B } ? B : undefined>
  /** Present on every non-public route. */
  principal: Spec<R>['persona'] extends 'public' ? Principal | undefined : Principal
  c: Context
}

export type RouteHandler<R extends RouteId> = (
  input: RouteInput<R>,
) => Promise<z.input<Spec<R>['response']> | Response> | z.input<Spec<R>['response']> | Response

export class Router {
  constructor(
    private readonly app: Hono,
    private readonly auth: Authenticator,
    /**
     * Told of each request refused for authorization (`permission_denied`), for the audit trail:
     * `target` is the route's method and contract path (`GET /v1/admin/customers/{customer_id}`),
     * never the request's path, which the caller chose and nothing has validated yet.
     */
    private readonly onDenied: (routeId: RouteId, target: string) => void = () => {},
  ) {}

  on<R extends RouteId>(id: R, handler: RouteHandler<R>): void {
    const spec: RouteSpec = routes[id]
    const path = spec.path.replace(/\{(\w+)\}/g, ':$1')
    const target = `${spec.method} ${spec.path}`
    this.app.on(spec.method, path, async (c) => {
      const principal =
        spec.persona === 'public'
          ? undefined
          : await this.auth.authenticate(
              Authenticator.tokenOf({
                authorization: c.req.header('authorization'),
                cookie: spec.bearerOnly ? undefined : c.req.header('cookie'),
              }),
            )
      if (principal) setActor(actorOf(principal))
      let result: unknown
      try {
        if (principal && spec.persona !== 'public')
          requirePersona(principal, spec.persona, spec.serviceAccounts === true)
        const params = spec.params ? parseOrThrow(spec.params, c.req.param(), 'path') : undefined
        const query = spec.query ? parseOrThrow(spec.query, queryOf(c), 'query') : rejectQuery(c)
        const body = spec.body ? parseOrThrow(spec.body, await jsonBody(c), 'body') : undefined
        result = await handler({ params, query, body, principal, c } as RouteInput<R>)
      } catch (err) {
        if (principal && err instanceof ApiError && err.code === 'permission_denied')
          this.onDenied(id, target)
        throw err
      }
      return result instanceof Response ? result : c.json(result as object)
    })
  }
}

/** Query parameters, with empty values treated as absent (`?since=&limit=` is a bare request). */
function queryOf(c: Context): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(c.req.query())) if (v !== '') out[k] = v
  return out
}

function rejectQuery(c: Context): undefined {
  const names = Object.keys(queryOf(c))
  if (names.length > 0) throw invalidArgument(names[0]!, 'unknown query parameter')
  return undefined
}

/** The JSON body; its `Content-Type` was checked before any route ran (`csrf.ts`). */
async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw invalidArgument('body', 'is not valid JSON')
  }
}

function actorOf(principal: Principal): Actor {
  const { claims } = principal
  return {
    identityId: principal.identity.id,
    credentialId: claims.jti,
    credentialType: claims.use === 'session' ? 'session' : (claims.kt ?? 'api_key'),
  }
}
