import { customType, timestamp } from 'drizzle-orm/pg-core';

/**
 * Column helpers shared by every table. Timestamps are `timestamptz(6)` in string mode:
 * a JS Date would drop microseconds, and Mosaic keeps them.
 */
export const tstz = (name: string) => timestamp(name, { withTimezone: true, precision: 6, mode: 'string' });

/** `bytea`, kept as a Buffer whenever drizzle itself reads it (the copy never does). */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});

/** `tsvector`, used only for the generated search column of messages. */
export const tsvector = customType<{ data: string }>({
  dataType: () => 'tsvector',
});
