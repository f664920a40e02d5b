/**
 * @module The environment `tare` reads, once, at start: where the control plane is, the
 * credential, where the session is stored, and whether a browser can be opened.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'

export interface CliEnv {
  /** `AGENTROUTER_BASE_URL`. */
  baseUrl: string | undefined
  /** `AGENTROUTER_API_KEY`: an API key or a session token. */
  apiKey: string | undefined
  /** `$XDG_CONFIG_HOME/agentrouter` or `~/.config/agentrouter`. */
  configDir: string
  /** `$BROWSER`, when set: the command that opens a URL. */
  browser: string | undefined
  /** Whether a graphical session is likely (macOS, Windows, or `DISPLAY`/`WAYLAND_DISPLAY`). */
  canOpenBrowser: boolean
  platform: NodeJS.Platform
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080'

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const nonEmpty = (v: string | undefined) => (v?.trim() ? v.trim() : undefined)
  const configHome = nonEmpty(env.XDG_CONFIG_HOME) ?? join(nonEmpty(env.HOME) ?? homedir(), '.config')
  const platform = process.platform
  return {
    baseUrl: nonEmpty(env.AGENTROUTER_BASE_URL),
    apiKey: nonEmpty(env.AGENTROUTER_API_KEY),
    configDir: join(configHome, 'agentrouter'),
    browser: nonEmpty(env.BROWSER),
    canOpenBrowser:
      platform === 'darwin' ||
      platform === 'win32' ||
      Boolean(nonEmpty(env.DISPLAY) ?? nonEmpty(env.WAYLAND_DISPLAY)),
    platform,
  }
}
