// Sections of docs/migrating-to-federated.md that come straight from the code: the table order,
// what is skipped and why, the lock key, and every error code. Pure functions of their inputs.

const code = (s) => `\`${s}\``;
const cell = (s) => s.replace(/\|/g, '\\|');

/** MIGRATION_ORDER as a table: position, FK parents, and what the copy does specially. */
export function migrationOrder({ MIGRATION_ORDER, SKIPPED_TABLES, DEFERRED_EDGES, tableGraph }) {
  const graph = tableGraph('federated');
  const rows = ['| # | table | after (foreign keys to) | how it is copied |', '| --- | --- | --- | --- |'];
  MIGRATION_ORDER.forEach((table, i) => {
    const info = graph.tables.get(table);
    const deferred = DEFERRED_EDGES.filter((d) => d.table === table);
    const parents = [...new Set(info.foreignKeys.map((fk) => fk.references))]
      .filter((p) => !deferred.some((d) => d.references === p))
      .sort((a, b) => MIGRATION_ORDER.indexOf(a) - MIGRATION_ORDER.indexOf(b));
    const notes = [];
    if (SKIPPED_TABLES[table]) notes.push('**skipped** (see below)');
    else notes.push('copied');
    for (const d of deferred) {
      notes.push(d.reason === 'cycle'
        ? `${code(`${d.table}.${d.column}`)} (a foreign-key cycle with ${code(d.references)}): copied as is while the foreign keys are off; loaded NULL and set once ${code(d.references)} exists when they stay on`
        : `${code(d.column)} (references the table itself): copied as is while the foreign keys are off; loaded NULL and set after the table when they stay on`);
    }
    for (const c of info.columns) {
      if (c.generated) notes.push(`${code(c.name)} not copied: the target computes it (generated column)`);
      if (c.identity) notes.push(`identity ${code(c.name)} copied as is; its sequence moved past the maximum`);
    }
    if (table === 'insights') notes.push(`${code('embedding')} (vector(1536), federated only) NULL when the source has no pgvector`);
    rows.push(`| ${i + 1} | ${code(table)} | ${parents.map(code).join(', ') || '—'} | ${notes.join('; ')} |`);
  });
  return `${rows.join('\n')}\n`;
}

/** SKIPPED_TABLES with the reason the tool itself prints. */
export function skippedTables({ SKIPPED_TABLES }) {
  const rows = ['| table | why it is not migrated |', '| --- | --- |'];
  for (const [table, reason] of Object.entries(SKIPPED_TABLES)) rows.push(`| ${code(table)} | ${cell(reason)} |`);
  return `${rows.join('\n')}\n`;
}

/**
 * holderQuery() of @mosaic/advisory-lock, narrowed to the database it runs in: pg_locks is
 * cluster-wide, and one server may hold several Mosaic databases, each with its own lock.
 */
export function holderSql({ MOSAIC_LOCK_KEY, holderQuery }) {
  return `${holderQuery(MOSAIC_LOCK_KEY)} and l.database = (select oid from pg_database where datname = current_database())`;
}

/** The advisory lock's key, how it shows in pg_locks, and the query that finds its holder. */
export function lockKey(lock) {
  const { MOSAIC_LOCK_KEY, lockKeyParts } = lock;
  const { classid, objid } = lockKeyParts(MOSAIC_LOCK_KEY);
  const hex = `0x${BigInt.asUintN(64, MOSAIC_LOCK_KEY).toString(16)}`;
  const query = holderSql(lock)
    .replace(/ from /, '\n  from ')
    .replace(/ where /, '\n where ')
    .replace(/ and l\.database/, '\n   and l.database');
  return [
    `- key: ${code(MOSAIC_LOCK_KEY.toString())} (${code(hex)}, "Mosaic" followed by 0x0001), a session-level advisory lock on the target database;`,
    `- in ${code('pg_locks')}: ${code("locktype = 'advisory'")}, ${code(`classid = ${classid}`)}, ${code(`objid = ${objid}`)}, ${code('objsubid = 1')}.`,
    '',
    'Who holds it (run in the target database, as its owner or a superuser):',
    '',
    '```sql',
    `${query};`,
    '```',
    '',
  ].join('\n');
}

/** One entry per error code: exit status, where it comes from, cause and fix. */
export function troubleshooting(entries, readmeLink) {
  const rows = ['| code | exit | cause | fix |', '| --- | --- | --- | --- |'];
  for (const e of entries) {
    const many = e.sources.length > 1;
    const from = (s) => (many ? `[${s.project.split('/')[1]}](${readmeLink(s.project)}): ` : '');
    const cause = e.sources.map((s) => `${from(s)}${s.cause}`).join('<br>');
    const fixes = [...new Set(e.sources.map((s) => s.fix).filter(Boolean))];
    const owners = e.sources.map((s) => `[${s.project.split('/')[1]}](${readmeLink(s.project)})`).join(', ');
    rows.push(`| ${code(e.code)} | ${e.exit} | ${cause}${many ? '' : ` (${owners})`} | ${fixes.join('<br>') || '—'} |`);
  }
  return `${rows.join('\n')}\n`;
}
