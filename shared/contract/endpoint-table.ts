/**
 * @module The endpoint table of the README, rendered from the route table: one row per route,
 * with its persona and `tare` command, so the documentation cannot drift from the code.
 */
import { PERSONA_TEXT } from './openapi.ts'
import { type RouteSpec, routes } from './routes.ts'

export function renderEndpointTable(): string {
  const rows = (Object.values(routes) as RouteSpec[]).map(
    (r) =>
      `| ${r.service} | ${r.method} ${r.path} | ${PERSONA_TEXT[r.persona]} | ${r.cli ? `\`${r.cli}\`` : ''} |`,
  )
  return ['| service | verb, path | persona | CLI |', '|---|---|---|---|', ...rows].join('\n')
}
