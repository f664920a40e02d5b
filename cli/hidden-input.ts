/**
 * @module Reading a secret typed at a terminal without echoing it: the TTY goes to raw mode (no
 * echo, no line editing by the kernel) for one line, with backspace, Ctrl-U (erase the line),
 * Ctrl-D (end; nothing typed is an empty value) and Ctrl-C (abandon: `Interrupted`, exit 130)
 * handled here. The terminal is always put back as it was.
 */
import type { Readable, Writable } from 'node:stream'

/** A terminal stream: what `process.stdin` is when `isTTY`. */
export interface TtyInput extends Readable {
  isTTY?: boolean
  isRaw?: boolean
  setRawMode?(mode: boolean): unknown
}

/** Ctrl-C at a hidden prompt: the command stops, exit 130 as for SIGINT. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted')
    this.name = 'Interrupted'
  }
}

export function readHiddenLine(input: TtyInput, prompt: Writable, label: string): Promise<string> {
  // Raw first: a key typed once the prompt shows must not be echoed by the terminal.
  const wasRaw = input.isRaw === true
  input.setRawMode?.(true)
  prompt.write(`${label} (input is hidden; Enter to end): `)
  input.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    let typed: string[] = []
    const finish = (err?: Error) => {
      input.off('data', onData)
      input.off('end', onEnd)
      input.setRawMode?.(wasRaw)
      input.pause()
      prompt.write('\n')
      if (err) reject(err)
      else resolve(typed.join(''))
    }
    const onEnd = () => finish()
    const onData = (chunk: string) => {
      const chars = Array.from(chunk)
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!
        switch (ch) {
          case '\r':
          case '\n':
          case '\u0004': // Ctrl-D
            finish()
            return
          case '\u0003': // Ctrl-C
            typed = []
            finish(new Interrupted())
            return
          case '\u007f': // DEL, what Backspace sends
          case '\b':
            typed.pop()
            break
          case '\u0015': // Ctrl-U
            typed = []
            break
          case '\u001b': // an escape sequence (arrow keys): ESC [ parameters final-byte, none of it typed
            if (chars[i + 1] === '[' || chars[i + 1] === 'O') {
              i += 2
              while (i < chars.length && !/[@-~]/.test(chars[i]!)) i++
            }
            break
          default:
            if (ch >= ' ') typed.push(ch)
        }
      }
    }
    input.on('data', onData)
    input.once('end', onEnd)
    input.resume()
  })
}
