/**
 * @module `tare api login | logout | whoami`: the loopback PKCE login that stores a session,
 * ending it, and the identity behind the credential in effect.
 */
import { ApiError, Client, type LogoutResponse } from '../../shared/client/index.ts'
import { type CommandSpec, command } from '../command.ts'
import { deviceLogin } from '../device-flow.ts'
import { loopbackLogin } from '../login-flow.ts'
import { openBrowser } from '../open-browser.ts'
import { clientFor, flag, int, str, WAIT_OPTIONS, waitHttpTimeoutMs, waitOption } from '../options.ts'
import { enforcementExit, printEnforcement, printIdentity } from '../render.ts'
import { deleteSession, readSession, sessionPath, writeSession } from '../session.ts'

export const login: CommandSpec = command({
  name: 'login',
  summary: 'Log in through your identity provider and store the session',
  description: [
    'Listens on a free port of 127.0.0.1, prints the authorization URL and opens it in a browser',
    'when one is available, waits for the redirect, then stores the session token in',
    '$XDG_CONFIG_HOME/agentrouter/session.json (default ~/.config/agentrouter/session.json), mode 0600.',
    'Later commands use it when AGENTROUTER_API_KEY is not set.',
    '',
    'With --no-browser (a remote machine, a container): open the URL in any browser; when it ends',
    'on an address at 127.0.0.1 that fails to load, paste that whole address here and press Enter.',
    'The listener keeps running meanwhile: whichever comes first completes the login.',
    '',
    'With --device: the device authorization flow (RFC 8628) through the control plane, for',
    'issuers that offer it: visit the address shown on any device and enter the code.',
  ].join('\n'),
  options: {
    issuer: {
      type: 'string',
      valueName: 'ALIAS',
      description: 'OIDC issuer alias (default: the first configured)',
    },
    'no-browser': {
      type: 'boolean',
      description:
        'Print the URL, do not open a browser; also accept the address the browser ended on, pasted',
    },
    device: {
      type: 'boolean',
      description: 'Use the device flow: a code to enter on any device (issuers that offer it)',
    },
    timeout: {
      type: 'string',
      valueName: 'SECONDS',
      description: 'How long to wait for the browser to come back (default 300)',
    },
  },
  examples: [
    'tare api login',
    'tare api login --no-browser --base-url https://agentrouter.example.com',
    'tare api login --device',
  ],
  async run(ctx) {
    const timeoutSec = int(ctx, 'timeout', 1) ?? 300
    const noBrowser = flag(ctx, 'no-browser')
    const done = flag(ctx, 'device')
      ? await deviceLogin({
          client: ctx.anonymousClient(),
          issuer: str(ctx, 'issuer'),
          timeoutMs: timeoutSec * 1000,
          onUserCode(started) {
            ctx.out.note(`On any device, open ${started.verification_uri} and enter the code:`)
            ctx.out.note('')
            ctx.out.note(`  ${started.user_code}`)
            ctx.out.note('')
            if (started.verification_uri_complete)
              ctx.out.note(`(or open ${started.verification_uri_complete}, which carries the code)`)
            ctx.out.note('Waiting for the login…')
          },
        })
      : await loopbackLogin({
          client: ctx.anonymousClient(),
          issuer: str(ctx, 'issuer'),
          timeoutMs: timeoutSec * 1000,
          onAuthorizationUrl(url) {
            ctx.out.note('Open this URL in a browser to log in:')
            ctx.out.note('')
            ctx.out.note(`  ${url}`)
            ctx.out.note('')
            const opened = !noBrowser && openBrowser(url, ctx.env)
            if (opened) ctx.out.note('Opening a browser… waiting for the login.')
            else if (noBrowser)
              ctx.out.note(
                'Waiting for the login… If the browser is on another machine, paste here the address it ended on (http://127.0.0.1:…/callback?…) and press Enter.',
              )
            else ctx.out.note('Waiting for the login…')
          },
          pasted: noBrowser ? ctx.stdin : undefined,
          onPasteRefused(reason) {
            ctx.out.note(`error: that address was refused: ${reason} Still waiting for the login…`)
          },
        })
    const path = writeSession(ctx.env.configDir, {
      base_url: ctx.baseUrl(),
      session_token: done.session_token,
      expires_at: done.expires_at,
      identity_id: done.identity.id,
      email: done.identity.email,
    })
    // The token itself stays in the file: printing it would put it in terminal scrollback and logs.
    const shown = { identity: done.identity, expires_at: done.expires_at, session_file: path }
    ctx.out.result(shown, () => {
      ctx.out.line(`Logged in as ${done.identity.email || done.identity.id}.`)
      ctx.out.line(`Session stored in ${path} (expires ${done.expires_at}).`)
    })
    if (ctx.env.apiKey)
      ctx.out.note('Note: AGENTROUTER_API_KEY is set; it takes precedence over the stored session.')
  },
})

export const logout: CommandSpec = command({
  name: 'logout',
  summary: 'Revoke the stored session and delete it',
  description:
    'Revokes the session at the control plane (dataplanes drop it too) and deletes the stored session file.\nWithout a stored session, logs out the session token in AGENTROUTER_API_KEY; with neither, there is\nnothing to do: exit 0 with a note.',
  options: WAIT_OPTIONS,
  async run(ctx) {
    const stored = readSession(ctx.env.configDir)
    const token = stored?.session_token ?? ctx.env.apiKey
    const wait = waitOption(ctx)
    if (!token) {
      // Already where logout leads: a script that logs out twice has not failed.
      ctx.out.note('Not logged in: there is no stored session and AGENTROUTER_API_KEY is not set.')
      ctx.out.result({}, () => {})
      return
    }
    // A stored session is ended where it was issued, whatever --base-url says.
    const client = stored
      ? new Client({
          baseUrl: stored.base_url,
          apiKey: token,
          ...(wait ? { timeoutMs: waitHttpTimeoutMs(wait) } : {}),
        })
      : clientFor(ctx, wait)
    let response: LogoutResponse
    try {
      response = await client.me.logout(wait)
    } catch (err) {
      // An expired or already revoked session is as logged out as it gets: forget it locally.
      if (!(err instanceof ApiError && err.code === 'unauthenticated' && stored)) throw err
      deleteSession(ctx.env.configDir)
      ctx.out.note(
        `The stored session had already ended (${err.message}); removed ${sessionPath(ctx.env.configDir)}.`,
      )
      ctx.out.result({}, () => ctx.out.line('Logged out.'))
      return
    }
    if (stored) deleteSession(ctx.env.configDir)
    ctx.out.result(response, () => {
      ctx.out.line('Logged out.')
      if (stored) ctx.out.line(`Removed ${sessionPath(ctx.env.configDir)}.`)
      printEnforcement(ctx.out, response.enforcement)
    })
    return enforcementExit(ctx.out, response.enforcement)
  },
})

export const whoami: CommandSpec = command({
  name: 'whoami',
  summary: 'Show the identity behind the credential in effect',
  async run(ctx) {
    const response = await ctx.client().me.get()
    ctx.out.result(response, () => printIdentity(ctx.out, response.identity))
  },
})
