/**
 * @module A minimal browser for tests: a cookie jar, redirects followed by hand, and the
 * development IdP's HTML forms submitted the way a person would. It stops at the redirect to the
 * client's `redirect_uri` and hands back the code and state, as a loopback listener would get them.
 */

export interface AuthorizationResult {
  code: string
  state: string
  /** Every URL visited, for diagnosing a failed flow. */
  visited: string[]
}

export class Browser {
  readonly #cookies = new Map<string, Map<string, string>>()

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url)
    const headers: Record<string, string> = {}
    const jar = this.#cookies.get(target.host)
    if (jar && jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    let body: string | undefined
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    }
    const response = await fetch(target, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    })
    for (const line of response.headers.getSetCookie()) this.#store(target.host, line)
    return response
  }

  /**
   * Follows the authorization URL through the IdP's login (and consent, if shown) until the IdP
   * redirects to `redirectUri`; submits `login` and `password` into the login form.
   */
  async authorize(
    authorizationUrl: string,
    redirectUri: string,
    login: string,
    password = 'any',
  ): Promise<AuthorizationResult> {
    const visited: string[] = []
    let url = authorizationUrl
    let form: Record<string, string> | undefined
    let method = 'GET'
    for (let hop = 0; hop < 20; hop++) {
      visited.push(`${method} ${url}`)
      const response = await this.request(url, { method, ...(form ? { form } : {}) })
      form = undefined
      method = 'GET'
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel()
        const next = new URL(location, url).href
        if (next.startsWith(redirectUri)) {
          const params = new URL(next).searchParams
          const error = params.get('error')
          if (error) throw new Error(`IdP refused: ${error}: ${params.get('error_description')}`)
          return { code: params.get('code') ?? '', state: params.get('state') ?? '', visited }
        }
        url = next
        continue
      }
      const html = await response.text()
      if (response.status !== 200)
        throw new Error(`IdP answered ${response.status} at ${url}: ${html.slice(0, 300)}`)
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
      if (!action) throw new Error(`no form at ${url}: ${html.slice(0, 300)}`)
      const fields: Record<string, string> = {}
      for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g))
        fields[m[1]!] = m[2]!
      if (/name="login"/.test(html)) Object.assign(fields, { login, password })
      url = new URL(action.replaceAll('&amp;', '&'), url).href
      form = fields
      method = 'POST'
    }
    throw new Error(`too many hops: ${visited.join(' -> ')}`)
  }

  /**
   * Approves a device login (RFC 8628) the way a person would: opens `verificationUrl` (the
   * `verification_uri_complete`, or the bare URI with `userCode` typed into its form), confirms
   * the code, signs in as `login`, and answers the page the IdP ends on.
   */
  async approveDevice(verificationUrl: string, login: string, userCode?: string): Promise<string> {
    let url = verificationUrl
    let form: Record<string, string> | undefined
    let method = 'GET'
    const visited: string[] = []
    for (let hop = 0; hop < 20; hop++) {
      visited.push(`${method} ${url}`)
      const response = await this.request(url, { method, ...(form ? { form } : {}) })
      form = undefined
      method = 'GET'
      const location = response.headers.get('location')
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel()
        url = new URL(location, url).href
        continue
      }
      const html = await response.text()
      if (response.status !== 200)
        throw new Error(`IdP answered ${response.status} at ${url}: ${html.slice(0, 300)}`)
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
      if (!action) return html
      const fields: Record<string, string> = {}
      for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g))
        fields[m[1]!] = m[2]!
      if (/name="login"/.test(html)) Object.assign(fields, { login, password: 'any' })
      if (/name="user_code"/.test(html) && !fields.user_code && userCode) fields.user_code = userCode
      url = new URL(action.replaceAll('&amp;', '&'), url).href
      form = fields
      method = 'POST'
    }
    throw new Error(`too many hops: ${visited.join(' -> ')}`)
  }

  #store(host: string, line: string): void {
    const [pair] = line.split(';')
    const eq = pair!.indexOf('=')
    if (eq <= 0) return
    const name = pair!.slice(0, eq).trim()
    const value = pair!.slice(eq + 1).trim()
    const jar = this.#cookies.get(host) ?? new Map<string, string>()
    this.#cookies.set(host, jar)
    if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name)
    else jar.set(name, value)
  }
}
