/** A PostgreSQL server the tests run against (one per major selected by MOSAIC_TEST_SERVERS). */
export interface TestServer {
  /** `pg17`, `pg15`: the server's real major, checked at start-up. */
  readonly name: string;
  readonly major: number;
  /** A superuser URL; tests create their own databases on it. */
  readonly adminUrl: string;
  /** A URL for a role that must authenticate by password, or '' when the server trusts everyone. */
  readonly passwordUrl: string;
  /** How the server was found: env, docker, provisioned or ephemeral. */
  readonly source: string;
}

// What the global setup hands to tests through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Every selected server, in MOSAIC_TEST_SERVERS order (default: pg17, then pg15). */
    pgServers: TestServer[];
    /** The first selected server's superuser URL (the federated tier's server by default). */
    pgAdminUrl: string;
    /** How the first server was found. */
    pgSource: string;
    /** The first server's password-role URL, or '' when it trusts everyone. */
    pgPasswordUrl: string;
  }
}

export {};
