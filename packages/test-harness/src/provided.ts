// What the global setup hands to tests through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser URL on a server with pgvector available; tests create their own databases. */
    pgAdminUrl: string;
    /** How the server was found: env, docker or ephemeral. */
    pgSource: string;
    /** A URL for a role that must authenticate by password, or '' when the server trusts everyone. */
    pgPasswordUrl: string;
  }
}

export {};
