/**
 * @module The loopback login of a native app (RFC 8252 with PKCE, RFC 7636): listen on a free
 * port of 127.0.0.1, start the login with that `/callback` URI and an S256 challenge, let the
 * person sign in in a browser, take the one redirect whose `state` matches, redeem the code at the
 * control plane, and answer the browser with a short page saying how it went.
 *
 * When the browser runs on another machine its redirect to 127.0.0.1 fails to load there; the
 * person can paste the address it ended on (`pasted`, one per line). The listener keeps running
 * meanwhile: whichever brings a matching redirect first completes the login.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { ApiError, type CallbackResponse, type Client } from '../shared/client/index.ts'

export interface LoopbackLoginOptions {
  /** A client without credentials, pointed at the control plane. */
  client: Client
  issuer?: string | undefined
  timeoutMs: number
  /** Called once the authorization URL is known: print it, open a browser. */
  onAuthorizationUrl(url: string, redirectUri: string): void
  /** Lines of input that may carry the address the browser ended on. */
  pasted?: Readable | undefined
  /** A pasted line that is not the redirect of this login: say why, keep waiting. */
  onPasteRefused?(reason: string): void
}

interface Redirect {
  code: string
  state: string
  /** The browser waiting for a page; none when the address was pasted. */
  response?: ServerResponse | undefined
}

export async function loopbackLogin(options: LoopbackLoginOptions): Promise<CallbackResponse> {
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')

  let expectedState: string | undefined
  let deliver: (r: Redirect) => void = () => {}
  let refuse: (e: Error) => void = () => {}
  const redirected = new Promise<Redirect>((resolve, reject) => {
    deliver = resolve
    refuse = reject
  })
  const server = createServer((req, res) => {
    const outcome = readRedirect(req, expectedState)
    if (outcome.kind === 'ignore') {
      void page(res, outcome.status, 'Not this page', outcome.reason)
      return
    }
    if (outcome.kind === 'refused') {
      const failure = new ApiError(
        'unauthenticated',
        `the identity provider refused the login: ${outcome.reason}`,
      )
      void page(res, 400, 'Login refused', outcome.reason).then(() => refuse(failure))
      return
    }
    deliver({ code: outcome.code, state: outcome.state, response: res })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const lines = options.pasted ? createInterface({ input: options.pasted, crlfDelay: Infinity }) : undefined
  const close = () => {
    server.closeAllConnections()
    server.close()
    lines?.close()
    // readline pauses its input on close; a paused stdin pipe would still hold the process open.
    options.pasted?.destroy()
  }
  let timer: NodeJS.Timeout | undefined
  try {
    const { port } = server.address() as AddressInfo
    const redirectUri = `http://127.0.0.1:${port}/callback`
    const started = await options.client.me.login({
      redirectUri,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      ...(options.issuer ? { issuer: options.issuer } : {}),
    })
    expectedState = started.state
    options.onAuthorizationUrl(started.authorization_url, redirectUri)
    lines?.on('line', (line) => {
      if (!line.trim()) return
      const outcome = readPastedRedirect(line, redirectUri, started.state)
      if (outcome.kind === 'ignore') options.onPasteRefused?.(outcome.reason)
      else if (outcome.kind === 'refused')
        refuse(new ApiError('unauthenticated', `the identity provider refused the login: ${outcome.reason}`))
      else deliver({ code: outcome.code, state: outcome.state })
    })

    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ApiError(
              'deadline_exceeded',
              `no login completed within ${Math.round(options.timeoutMs / 1000)} s; run the command again`,
            ),
          ),
        options.timeoutMs,
      )
    })
    const { code, state, response } = await Promise.race([redirected, timedOut])
    try {
      const done = await options.client.me.callback({ code, state, codeVerifier: verifier })
      await page(
        response,
        200,
        'Logged in',
        `Logged in to AgentRouter as ${done.identity.email || done.identity.id}. You can close this tab.`,
      )
      return done
    } catch (err) {
      await page(response, 400, 'Login failed', err instanceof Error ? err.message : String(err))
      throw err
    }
  } finally {
    clearTimeout(timer)
    close()
  }
}

type RedirectOutcome =
  | { kind: 'ignore'; status: number; reason: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'code'; code: string; state: string }

function readRedirect(req: IncomingMessage, expectedState: string | undefined): RedirectOutcome {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  if (req.method !== 'GET' || url.pathname !== '/callback') {
    return { kind: 'ignore', status: 404, reason: 'This listener only takes the login redirect.' }
  }
  return readCallbackQuery(url, expectedState)
}

/**
 * A pasted line: the whole address of this login's redirect URI (scheme, host, port and path as
 * handed out), with the state of this login. Anything else is explained and ignored.
 */
function readPastedRedirect(line: string, redirectUri: string, expectedState: string): RedirectOutcome {
  const text = line.trim()
  const expected = new URL(redirectUri)
  const shape = `${redirectUri}?code=…&state=…`
  if (!URL.canParse(text))
    return {
      kind: 'ignore',
      status: 400,
      reason: `Not an address: paste the whole address the browser ended on (${shape}).`,
    }
  const url = new URL(text)
  if (url.origin !== expected.origin || url.pathname !== expected.pathname)
    return {
      kind: 'ignore',
      status: 400,
      reason: `Not this login's redirect: expected an address starting with ${redirectUri}.`,
    }
  if (!url.searchParams.has('state') && !url.searchParams.has('code') && !url.searchParams.has('error'))
    return {
      kind: 'ignore',
      status: 400,
      reason: `The address carries no code and state: paste it whole (${shape}).`,
    }
  return readCallbackQuery(url, expectedState)
}

function readCallbackQuery(url: URL, expectedState: string | undefined): RedirectOutcome {
  const state = url.searchParams.get('state') ?? ''
  // A redirect that does not carry our state was not started by us: ignore it, keep waiting.
  if (!expectedState || state !== expectedState) {
    return { kind: 'ignore', status: 400, reason: 'The state does not match the login in progress.' }
  }
  const error = url.searchParams.get('error')
  if (error) {
    const description = url.searchParams.get('error_description')
    return { kind: 'refused', reason: description ? `${error}: ${description}` : error }
  }
  const code = url.searchParams.get('code')
  if (!code) return { kind: 'refused', reason: 'the redirect carried no code' }
  return { kind: 'code', code, state }
}

/** Answers the browser; resolves once the page is written, so closing the listener cannot cut it. */
function page(res: ServerResponse | undefined, status: number, title: string, text: string): Promise<void> {
  if (!res) return Promise.resolve()
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)} · AgentRouter</title></head><body style="font-family:system-ui,sans-serif;margin:4rem auto;max-width:36rem"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>\n`
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'close',
  })
  return new Promise((resolve) => {
    res.once('close', resolve)
    res.end(body, resolve)
  })
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )
}
