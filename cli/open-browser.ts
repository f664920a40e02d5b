/**
 * @module Opens a URL in the user's browser when one is likely available: `$BROWSER`, `open` on
 * macOS, `xdg-open` under X11/Wayland. It never fails: a missing opener only means the user
 * follows the printed URL by hand.
 */
import { spawn } from 'node:child_process'
import type { CliEnv } from './env.ts'

/** Returns whether an opener was started (not whether a browser appeared). */
export function openBrowser(url: string, env: CliEnv): boolean {
  const command = openerFor(url, env)
  if (!command) return false
  try {
    const child = spawn(command[0]!, command.slice(1), { detached: true, stdio: 'ignore' })
    child.on('error', () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}

function openerFor(url: string, env: CliEnv): string[] | undefined {
  if (env.browser) {
    const words = env.browser.split(/\s+/)
    return words.some((w) => w.includes('%s')) ? words.map((w) => w.replace('%s', url)) : [...words, url]
  }
  if (!env.canOpenBrowser) return undefined
  if (env.platform === 'darwin') return ['open', url]
  if (env.platform === 'win32') return ['rundll32', 'url.dll,FileProtocolHandler', url]
  return ['xdg-open', url]
}
