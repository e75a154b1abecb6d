import type { Engine, Location } from './location.js';
import type { StoreLockOptions } from './pglite/store-lock.js';

export type Row = Record<string, unknown>;

/**
 * The part of a connection that runs SQL. Values come back as text except int2/int4
 * (number), bool (boolean) and bytea (Buffer): timestamps, numerics, int8, floats and
 * json stay exactly as the server printed them. Data moves with COPY, never through here.
 */
/**
 * What an engine can do, so that callers ask for a capability instead of testing which engine
 * it is (kysely's adapters are a handful of such flags). PGlite: exclusive, one shared session,
 * no exported snapshots, no other clients, bundled extensions, COPY FROM read whole.
 * PostgreSQL (postgres.js): the opposite of each.
 */
export interface Capabilities {
  /**
   * The store is this process's alone while it is open (the PGlite store lock): nothing else
   * writes to it, so its heap pages are a stable order to copy by, and its counts stay true.
   */
  readonly exclusive: boolean;
  /**
   * Every statement runs on one session that callers take turns on: session() does not open a
   * backend, so a session held for the whole run (a lock) would stall every other statement.
   */
  readonly sharedSession: boolean;
  /** A transaction's snapshot can be exported and imported by other sessions (pg_export_snapshot). */
  readonly snapshotExport: boolean;
  /**
   * Other processes connect too: locks between sessions mean something, a connection pooler may
   * stand between, and the server's timeouts can end a session.
   */
  readonly otherClients: boolean;
  /** Extensions are the server's own: CREATE EXTENSION may need a superuser (PGlite bundles pgvector). */
  readonly serverExtensions: boolean;
  /** COPY FROM STDIN ingests a stream as it arrives (PGlite reads the whole input first: send it bounded pieces). */
  readonly streamingCopyIn: boolean;
}

export const POSTGRES_CAPABILITIES: Capabilities = {
  exclusive: false, sharedSession: false, snapshotExport: true, otherClients: true, serverExtensions: true, streamingCopyIn: true,
};

export const PGLITE_CAPABILITIES: Capabilities = {
  exclusive: true, sharedSession: true, snapshotExport: false, otherClients: false, serverExtensions: false, streamingCopyIn: false,
};

export interface Queryable {
  readonly engine: Engine;
  readonly capabilities: Capabilities;
  /** One statement, `$1`-style parameters. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements, no parameters. */
  exec(sql: string): Promise<void>;
}

/** COPY in and out, as byte streams. */
export interface Copier {
  /** Runs `COPY ... FROM STDIN` fed by `data`; resolves with the rows the server took. */
  copyFrom(sql: string, data: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): Promise<number>;
  /** Runs `COPY ... TO STDOUT` and yields the bytes as they come. */
  copyTo(sql: string): AsyncIterable<Uint8Array>;
}

/** One backend held for the caller alone (transactions, session locks, temp tables). */
export interface Session extends Queryable, Copier {
  /**
   * PostgreSQL: the server process of this session (`pg_stat_activity.pid`), as the server told
   * it at connection start (no query asks for it); PGlite: null (one session, no server).
   */
  readonly backendPid: number | null;
  /**
   * Aborted as soon as the connection under this session ends (the server ended it, the network
   * dropped it, the PGlite thread died, or release()); `reason` is a ConnectionError. Lets a
   * holder of something tied to the session (a session lock) hear at once that it is gone.
   */
  readonly closed: AbortSignal;
  /** Returns the backend (PostgreSQL) or lets the next caller in (PGlite). */
  release(): Promise<void>;
}

export interface CopyToOptions {
  /**
   * Read inside this exported snapshot (pg_export_snapshot(): REPEATABLE READ READ ONLY, then SET
   * TRANSACTION SNAPSHOT). Only where `capabilities.snapshotExport`.
   */
  readonly snapshot?: string | undefined;
}

/** An open location. */
export interface Database extends Queryable, Copier {
  readonly location: Location;
  /**
   * `COPY ... TO STDOUT` on a connection of its own (PostgreSQL: the wire reader, one message for
   * the settings, the snapshot and the COPY, where the connection allows it), yielding the bytes
   * in pieces of about 256 KB. Ending the iteration early ends that connection.
   */
  copyTo(sql: string, options?: CopyToOptions): AsyncIterable<Uint8Array>;
  /** A dedicated session: the same backend for every statement until release(). */
  session(): Promise<Session>;
  /**
   * PostgreSQL: the server processes of every connection this Database has open right now (its
   * own and its sessions'), to find this process's statements in pg_stat_activity (a statement
   * waiting for a lock, say) without a query on each of them; PGlite: none.
   */
  backendPids(): number[];
  /** Runs `fn` inside BEGIN/COMMIT on a dedicated session; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
  /**
   * LISTEN on `channel` on a connection of its own. PostgreSQL: `onNotify` gets each NOTIFY's
   * payload; `onListening` runs each time the LISTEN is (re)established, after a dropped
   * connection too, when notifications may have been missed: re-read what they announce then.
   * Delivery is best effort (a pooler in transaction mode drops notifications; a server that
   * stays down ends the re-listening silently): poll as well. PGlite: nothing else can notify
   * (`capabilities.otherClients` is false), so the listener never fires.
   */
  listen(channel: string, handlers: ListenHandlers): Promise<Listener>;
  close(): Promise<void>;
}

export interface ListenHandlers {
  onNotify(payload: string): void;
  onListening?: () => void;
}

export interface Listener {
  /** UNLISTEN and end the listening connection. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `application_name` of every session: lets an operator find us in pg_stat_activity. */
  applicationName?: string;
  /** Seconds to wait for a PostgreSQL connection. Default 10. */
  connectTimeoutSeconds?: number;
  /** PGlite: create the directory and an empty cluster when it does not exist. */
  create?: boolean;
  /**
   * PGlite: the store is opened to be read through once (the source of a migration or a
   * verify): it starts with 16 MB of shared buffers instead of 128 MB, memory of this process
   * that a bulk read does not use well. Ignored for PostgreSQL.
   */
  readThrough?: boolean;
  /**
   * PGlite: what to do when another process holds the store. Default: fail at once with
   * STORE_LOCKED. `{ wait: true }` waits for the holder to let go (however it exits), reporting it
   * through `onWait`, up to `timeoutSeconds` (then STORE_LOCK_TIMEOUT), until `signal` aborts.
   * A second open of one store in one process is refused at once either way.
   */
  storeLock?: StoreLockOptions;
}

/**
 * Settings of every session. Only application_name, TimeZone and DateStyle go in the startup
 * packet (a connection pooler such as PgBouncer refuses other startup parameters); the rest are
 * SET on each connection before its first statement, and again after a reconnect.
 */
export const SESSION_SETTINGS = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
  // Long copies must not be cut short by a role's or server's defaults.
  statement_timeout: '0',
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
  // Literals the tools inline (keys, journal entries) double quotes only: backslashes must be plain.
  standard_conforming_strings: 'on',
} as const;

/**
 * Timeouts that exist only on newer servers (idle_session_timeout from 14, transaction_timeout
 * from 17): a role's or database's default would end a run's long snapshot or lock session.
 * Off where the server has them, in the same message as the SETs (no round trip of its own).
 */
export const NEWER_TIMEOUTS_OFF = "select set_config(name, '0', false) from pg_settings where name in ('idle_session_timeout', 'transaction_timeout');";

export const STARTUP_SETTINGS = ['TimeZone', 'DateStyle'] as const;

/** The SET statements for the settings that are not sent at startup, and the newer timeouts off. */
export function sessionSetSql(): string {
  return Object.entries(SESSION_SETTINGS)
    .filter(([k]) => !(STARTUP_SETTINGS as readonly string[]).includes(k))
    .map(([k, v]) => `SET ${k} = '${v}';`)
    .concat(NEWER_TIMEOUTS_OFF)
    .join(' ');
}
