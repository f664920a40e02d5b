/**
 * @module OpenTelemetry spans around the three steps of a request (auth, provider-key
 * resolution, the upstream call), through `@opentelemetry/api` only: with no SDK registered
 * they cost a non-recording span each, and an operator who registers one (for example with
 * `node --import @opentelemetry/auto-instrumentations-node/register`) gets real traces.
 * `traceparent` reaches the upstream either way: the client's header passes through untouched
 * unless a registered propagator injects the upstream span's own context in its place.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { type Context, propagation, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api'

const tracer = trace.getTracer('agentrouter-dataplane')

export type { Context, Span }

/** The context the client's trace headers carry (the root context when none or no propagator). */
export function requestContext(headers: IncomingHttpHeaders): Context {
  return propagation.extract(ROOT_CONTEXT, headers)
}

export function startSpan(name: string, parent: Context): Span {
  return tracer.startSpan(name, undefined, parent)
}

/** Header names a registered propagator writes; empty with none (so nothing is replaced). */
export function propagatedFields(): ReadonlySet<string> | undefined {
  const fields = propagation.fields()
  return fields.length ? new Set(fields.map((f) => f.toLowerCase())) : undefined
}

/** Appends the span's trace headers to a flat header array, as the registered propagator writes them. */
export function injectTrace(parent: Context, span: Span, headers: string[]): void {
  propagation.inject(trace.setSpan(parent, span), headers, {
    set: (carrier, key, value) => {
      carrier.push(key, value)
    },
  })
}
