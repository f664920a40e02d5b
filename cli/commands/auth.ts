/**
 * @module `tare api auth jwks get`: the public keys that verify every token.
 */
import { command, type GroupSpec, group } from '../command.ts'

export const auth: GroupSpec = group({
  name: 'auth',
  summary: 'Token verification keys',
  children: [
    group({
      name: 'jwks',
      summary: 'The JSON Web Key Set',
      children: [
        command({
          name: 'get',
          summary: 'The public keys that verify every token (no credential needed)',
          async run(ctx) {
            const response = await ctx.anonymousClient().auth.getJWKS()
            ctx.out.result(response, () =>
              ctx.out.table(
                response.keys,
                [
                  { header: 'kid', value: (k) => k.kid },
                  { header: 'alg', value: (k) => k.alg },
                  { header: 'kty', value: (k) => k.kty },
                  { header: 'use', value: (k) => k.use },
                ],
                'No keys.',
              ),
            )
          },
        }),
      ],
    }),
  ],
})
