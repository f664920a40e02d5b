/**
 * @module Preloaded into Portkey's gateway (`node --import`) for the streaming benchmark only.
 *
 * Portkey 1.15.2 on Node answers every streamed chat completion with a 500 ("TypeError:
 * immutable"): its stream path builds `new Response(stream, upstreamFetchResponse)`, the
 * lightweight `Response` that @hono/node-server 1.19 installs as a global keeps the upstream
 * response's Headers object (immutable, as fetch makes it), and Portkey then appends its
 * `x-portkey-*` headers to it. This wraps that global so a native Response passed as `init`
 * is copied into a plain init with fresh, mutable headers, which is what the platform's own
 * `Response` constructor does. Nothing else in the gateway is touched.
 */
const NativeResponse = globalThis.Response

function install() {
  const Lightweight = globalThis.Response
  if (Lightweight === NativeResponse) return false
  class CopyingResponse extends Lightweight {
    constructor(body, init) {
      if (init instanceof NativeResponse) {
        init = { status: init.status, statusText: init.statusText, headers: new Headers(init.headers) }
      }
      super(body, init)
    }
  }
  Object.defineProperty(globalThis, 'Response', {
    value: CopyingResponse,
    writable: true,
    configurable: true,
  })
  return true
}

// @hono/node-server replaces the global when the gateway calls serve(), after this preload ran.
const timer = setInterval(() => {
  if (install()) clearInterval(timer)
}, 5)
timer.unref()
