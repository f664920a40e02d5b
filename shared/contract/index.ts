/**
 * @module The contract: schemas of every request and response, the route table, OpenAPI.
 */
export * from './admin.ts'
export * from './aikeys.ts'
export * from './audit.ts'
export * from './auth.ts'
export * from './common.ts'
export * from './internal.ts'
export * from './me.ts'
export * from './openapi.ts'
export * from './routes.ts'
export * from './secrets.ts'
export * from './tokens.ts'
export * from './validate.ts'
