/**
 * @module `node --import tsx scripts/readme-endpoints.ts`: prints the README's endpoint table
 * from the route table (paste it between the README's `endpoints` markers).
 */
import { renderEndpointTable } from '../shared/contract/endpoint-table.ts'

process.stdout.write(`${renderEndpointTable()}\n`)
