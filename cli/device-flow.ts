/**
 * @module The device login (RFC 8628) through the control plane: start it, show the user code
 * and where to enter it, then poll at the interval the control plane names (longer after a
 * slow_down) until the login completes, is refused, or the time runs out.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { ApiError, type CallbackResponse, type Client } from '../shared/client/index.ts'
import type { ResponseOf } from '../shared/contract/routes.ts'

export interface DeviceLoginOptions {
  /** A client without credentials, pointed at the control plane. */
  client: Client
  issuer?: string | undefined
  timeoutMs: number
  /** Called once the code is known: show it. */
  onUserCode(started: ResponseOf<'deviceLogin'>): void
}

export async function deviceLogin(options: DeviceLoginOptions): Promise<CallbackResponse> {
  const started = await options.client.me.deviceLogin(options.issuer ? { issuer: options.issuer } : {})
  options.onUserCode(started)
  const waitMs = Math.min(options.timeoutMs, started.expires_in * 1000)
  const deadline = Date.now() + waitMs
  let interval = started.interval
  for (;;) {
    if (Date.now() + interval * 1000 > deadline) {
      throw new ApiError(
        'deadline_exceeded',
        `no login completed within ${Math.round(waitMs / 1000)} s; run the command again`,
      )
    }
    await sleep(interval * 1000)
    const polled = await options.client.me.devicePoll(started.device_handle)
    if (polled.status === 'complete' && polled.session_token && polled.expires_at && polled.identity) {
      return { session_token: polled.session_token, expires_at: polled.expires_at, identity: polled.identity }
    }
    interval = polled.interval ?? interval
  }
}
