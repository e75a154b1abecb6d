// Small SQL builders shared by the copy steps. Identifiers come from the schema package,
// never from input, and are quoted anyway.
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const list = (names: readonly string[]): string => names.map(ident).join(', ');

/** `(k1, k2) > ($1::t1, $2::t2)` for keyset pagination over a (possibly composite) key. */
export function keyAfter(key: readonly string[], types: readonly string[], first: number, op: '>' | '<=' = '>'): string {
  const params = key.map((_, i) => `$${first + i}::${types[i]}`);
  return `(${list(key)}) ${op} (${params.join(', ')})`;
}

/** The SELECT list of the copy: deferred columns go out NULL (restored later). */
export function selectList(columns: readonly string[], deferred: readonly string[], types: ReadonlyMap<string, string>): string {
  return columns.map((c) => (deferred.includes(c) ? `NULL::${types.get(c)} AS ${ident(c)}` : ident(c))).join(', ');
}
