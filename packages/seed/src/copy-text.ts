// PostgreSQL COPY text format, written by hand so values reach the server exactly as
// generated: no driver type conversion on the way.

export type Value = string | null;

/** One field: backslash, tab, newline and carriage return escaped; NULL is \N. */
export function copyField(value: Value): string {
  if (value === null) return '\\N';
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

export function copyLine(values: readonly Value[]): string {
  return `${values.map(copyField).join('\t')}\n`;
}

/** A text[] literal: every element quoted (so commas, braces, spaces and "NULL" survive), NULL bare. */
export function arrayLiteral(items: readonly Value[]): string {
  return `{${items.map((v) => (v === null ? 'NULL' : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`)).join(',')}}`;
}

export function byteaHex(bytes: Uint8Array): string {
  return `\\x${Buffer.from(bytes).toString('hex')}`;
}

/** Microseconds since the Unix epoch as a timestamptz literal in UTC, all six digits. */
export function timestamp(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const iso = new Date(ms).toISOString(); // 2024-01-01T00:00:00.000Z
  const frac = String(micros % 1_000_000).padStart(6, '0');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac}+00`;
}
