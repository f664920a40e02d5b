/**
 * @module The figures every run must produce (issue 6), so that runs compare; the harness test
 * checks each is present and positive.
 */
export const REQUIRED_FIGURES = [
  'auth_cached_p99_us',
  'auth_verify_p50_us',
  'auth_verify_floor_p50_us',
  'auth_revoked_p99_us',
  'auth_cached_p99_us_1m_revocations',
  'proxy_rps_direct',
  'proxy_rps_bare_undici',
  'proxy_rps_dataplane',
  'proxy_rps_portkey',
  'proxy_p99_ms_dataplane',
  'proxy_p99_ms_bare_undici',
  'revocation_p99_ms_1000_clients',
  'revocation_e2e_ms',
  'dp_rss_mb_1m_revocations',
] as const

/** Figures that need a PostgreSQL server: without one a run reports them missing, with the reason. */
export const POSTGRES_FIGURES = [
  'cp_key_issue_per_s_postgres',
  'cp_key_revoke_per_s_postgres',
  'revocation_p99_ms_10000_clients_3_replicas',
  'revocation_delete_enforced_ms_3_replicas',
] as const
