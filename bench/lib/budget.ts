/**
 * @module How much time a run may spend. `npm run bench` fits in five minutes on a 2-core
 * machine; `--quick` is a smoke run of about 30 seconds whose figures prove the harness works
 * and are not meant to be compared.
 */
export interface Budget {
  quick: boolean
}
