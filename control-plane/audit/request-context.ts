/**
 * @module The request being served, as the async context carries it: its id, the client's
 * address and, once authenticated, who is calling. The HTTP layer sets it; the audit trail reads
 * it, so domain services record who did what without every call threading these through.
 */
import { AsyncLocalStorage } from 'node:async_hooks'

/** Who acts: an identity and the credential it used. */
export interface Actor {
  identityId: string
  /** The credential's id (its JTI: `key_…` or `ses_…`); empty when there is none. */
  credentialId: string
  /** `KEY_TYPE_ADMIN`, `KEY_TYPE_DATAPLANE`, `KEY_TYPE_PROMPT`, `session`, or `system`. */
  credentialType: string
}

export interface RequestContext {
  requestId: string
  clientAddress: string
  /** Set once the request's credential is verified. */
  actor?: Actor
}

/** What the control plane does on its own (start-up, timers): no request, no credential. */
export const SYSTEM_ACTOR: Actor = { identityId: 'system', credentialId: '', credentialType: 'system' }

const storage = new AsyncLocalStorage<RequestContext>()

/** Runs `fn` (the rest of a request) with `context` as the current request. */
export function withRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn)
}

/** The request being served, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore()
}

/** Records who the current request acts as (the route binder, after authenticating). */
export function setActor(actor: Actor): void {
  const context = storage.getStore()
  if (context) context.actor = actor
}
