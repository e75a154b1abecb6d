import type { TableName } from './order.js';

/** Tables a tier migration never copies, with the reason the operator is shown. */
export const SKIPPED_TABLES: Readonly<Partial<Record<TableName, string>>> = {
  sessions: 'TTL-bound login sessions: they would fail JWT verification on the new target; users sign in again.',
  verifications: 'one-time tokens (email, password reset): already used or expired by the time they would arrive.',
  admin_tokens: "hashed with the old environment's secret: they cannot be verified on the target and must be re-issued.",
};

export function isSkipped(table: string): boolean {
  return Object.hasOwn(SKIPPED_TABLES, table);
}

/** MIGRATION_ORDER without the skipped tables: what migrate-tier copies, in order. */
export function copiedTables(order: readonly string[]): string[] {
  return order.filter((t) => !isSkipped(t));
}
