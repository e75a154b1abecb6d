/**
 * The one shape of every Mosaic error, whatever package raises it: a stable UPPER_SNAKE `code`
 * (each package declares its own as a string-literal union), one operator line as `message`
 * (already redacted), the underlying error on `cause`, and every field a server sent
 * (postgres.js keeps them all; so do we): SQLSTATE, detail, hint, schema, table, column,
 * constraint. A Mosaic error that wraps another keeps the server fields of the one it wraps, so
 * a CONSTRAINT_FAILED still names the constraint the server named.
 */
export interface ServerFields {
  /** SQLSTATE, when a server sent one. */
  readonly sqlState?: string | undefined;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
  readonly schema?: string | undefined;
  readonly table?: string | undefined;
  readonly column?: string | undefined;
  readonly constraint?: string | undefined;
}

export interface MosaicErrorOptions extends ServerFields {
  readonly cause?: unknown;
}

const SERVER_FIELDS = ['sqlState', 'detail', 'hint', 'schema', 'table', 'column', 'constraint'] as const;

export class MosaicError<Code extends string = string> extends Error implements ServerFields {
  override readonly name: string = 'MosaicError';
  readonly code: Code;
  readonly sqlState: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly schema: string | undefined;
  readonly table: string | undefined;
  readonly column: string | undefined;
  readonly constraint: string | undefined;

  constructor(code: Code, message: string, options: MosaicErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const wrapped = options.cause instanceof MosaicError ? (options.cause as ServerFields) : {};
    const fields: Record<(typeof SERVER_FIELDS)[number], string | undefined> = Object.fromEntries(
      SERVER_FIELDS.map((f) => [f, options[f] ?? wrapped[f]]),
    ) as never;
    this.sqlState = fields.sqlState;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.schema = fields.schema;
    this.table = fields.table;
    this.column = fields.column;
    this.constraint = fields.constraint;
  }
}

export function isMosaicError(error: unknown): error is MosaicError {
  return error instanceof MosaicError;
}

/** The server fields of a Mosaic error (or of anything shaped like one), where present. */
export function serverFields(error: unknown): ServerFields {
  const e = (error ?? {}) as Record<string, unknown>;
  return Object.fromEntries(SERVER_FIELDS.filter((f) => typeof e[f] === 'string').map((f) => [f, e[f]]));
}
