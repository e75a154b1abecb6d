import { describe, expect, it } from 'vitest';
import { MIGRATION_ORDER } from '@mosaic/schema';
import type { Detection } from '@mosaic/tier-detect';
import type { JournalRun } from './journal.js';
import { describeStrategy } from './describe.js';
import { NO_VECTOR_NOTE, PGLITE_TABLE_JOBS, plan } from './plan.js';

const counts = Object.fromEntries(MIGRATION_ORDER.map((t) => [t, 10]));
const empty = Object.fromEntries(MIGRATION_ORDER.map((t) => [t, 0]));

function detection(over: Partial<Detection> & { instanceId?: string | null; embeddings?: Detection['embeddings'] } = {}): Detection {
  const { instanceId = 'src-1', ...rest } = over;
  return {
    location: '/store', engine: 'pglite', serverVersion: '18.6', tier: 'local', tierReason: '',
    pgvector: { available: true, installed: false, version: null, creatable: true },
    schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId },
    embeddings: { column: false, nonNull: 0 },
    rowCounts: counts, totalRows: 220, valkey: null,
    ...rest,
  };
}

const target = (over: Partial<Detection> = {}): Detection => detection({
  location: 'postgresql://u:***@db/m', engine: 'postgres', serverVersion: '15.20', tier: 'standalone',
  schema: { present: false, version: null, state: 'absent', toolVersion: 1, instanceId: null }, rowCounts: {}, totalRows: 0, ...over,
});

const options = { to: 'federated' as const, batchSize: 1000, jobs: 2 };

describe('plan', () => {
  it('an empty target: fresh, 19 tables in MIGRATION_ORDER, 3 skipped with reasons, the NULL-embedding note', () => {
    const p = plan(detection(), target(), undefined, options, { sourceExclusive: true, targetMissingForeignKeys: false, targetOwnsTables: true });
    expect(p.mode).toBe('fresh');
    expect(p.relax).toBe(true);
    expect(p.tables.every((t) => t.strategy.kind === 'fresh' && t.strategy.chunks === 'pages' && t.relaxed)).toBe(true);
    // A role that does not own the target's tables cannot drop their constraints: the load keeps them.
    expect(plan(detection(), target(), undefined, options, { sourceExclusive: false, targetMissingForeignKeys: false, targetOwnsTables: false }).relax).toBe(false);
    expect(p.tables.map((t) => t.table)).toEqual(MIGRATION_ORDER.filter((t) => !['sessions', 'verifications', 'admin_tokens'].includes(t)));
    expect(p.skipped.map((s) => s.table)).toEqual(['sessions', 'verifications', 'admin_tokens']);
    expect(p.totalRows).toBe(190);
    expect(p.warnings).toEqual([NO_VECTOR_NOTE]);
    const messages = p.tables.find((t) => t.table === 'messages')!;
    expect(messages.columns).not.toContain('search');
    expect(messages.deferred).toEqual(['parent_id']);
    expect(p.tables.find((t) => t.table === 'users')!.deferred).toEqual(['active_team_id']);
    expect(p.tables.find((t) => t.table === 'agent_logs')!.identity).toEqual(['id']);
    expect(p.tables.find((t) => t.table === 'insights')!.columns).not.toContain('embedding');
    expect(p.tables.find((t) => t.table === 'team_members')!.primaryKey).toEqual(['team_id', 'user_id']);
  });

  it('copies embeddings between federated stores', () => {
    const p = plan(detection({ engine: 'postgres', tier: 'federated', embeddings: { column: true, nonNull: 5 } }), target({ pgvector: { available: true, installed: true, version: '0.8.0', creatable: false } }), undefined, options);
    expect(p.tables.find((t) => t.table === 'insights')!.columns).toContain('embedding');
    expect(p.warnings).toEqual([]);
  });

  it('resumes an unfinished run from this source, and converges over a finished one', () => {
    const journal: JournalRun = {
      runId: 'run-1', sourceInstance: 'src-1', sourceLocation: '/store', status: 'running', startedAt: '', finishedXid: null,
      tables: new Map([['users', { status: 'done', lastKey: ['usr_9'], byPages: false, rowsCopied: 10, chunks: 1, rowsAtFinish: null }], ['teams', { status: 'copying', lastKey: null, byPages: true, rowsCopied: 5, chunks: 1, rowsAtFinish: null }]]),
    };
    const t = target({ schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId: 't-1' }, tier: 'federated', rowCounts: { ...empty, users: 10, teams: 5 } });
    const relaxedLoad = { sourceExclusive: true, targetMissingForeignKeys: true, targetOwnsTables: true };
    const resumed = plan(detection(), t, journal, options, relaxedLoad);
    expect(resumed).toMatchObject({ mode: 'resume', runId: 'run-1', relax: true });
    // Finished under the earlier snapshot: re-checked; a stopped page copy: emptied and loaded again; not started: fresh.
    expect(resumed.tables[0]!.strategy).toEqual({ kind: 'converge', why: 'finished-earlier' });
    expect(resumed.tables[1]!.strategy).toEqual({ kind: 'restart', rowsCopied: 5 });
    expect(resumed.tables[2]!.strategy).toEqual({ kind: 'fresh', chunks: 'pages' });
    // A key-ordered copy that stopped goes on after its key.
    // (A source before PostgreSQL 14 has no TID range scan: it is read by keys.)
    const pg13 = detection({ engine: 'postgres', serverVersion: '13.16' });
    const byKeys = plan(pg13, t, { ...journal, tables: new Map([['teams', { status: 'copying', lastKey: ['t_4'], byPages: false, rowsCopied: 5, chunks: 1, rowsAtFinish: null }]]) }, options, { ...relaxedLoad, sourceExclusive: false });
    expect(byKeys.tables[1]!.strategy).toEqual({ kind: 'resume', after: ['t_4'], rowsCopied: 5 });
    expect(byKeys.tables[2]!.strategy).toEqual({ kind: 'fresh', chunks: 'keys' });
    // A resume whose target kept its foreign keys (a stopped converge run): every table converges.
    const kept = plan(detection(), t, journal, options, { ...relaxedLoad, targetMissingForeignKeys: false });
    expect(kept.relax).toBe(false);
    // ... every table that holds rows: an empty one loads fresh.
    expect(kept.tables.filter((x) => x.strategy.kind === 'converge').map((x) => x.table)).toEqual(['users', 'teams']);
    expect(kept.tables[2]!.strategy).toEqual({ kind: 'fresh', chunks: 'pages' });
    const converge = plan(detection(), t, { ...journal, status: 'done' }, options, relaxedLoad);
    expect(converge).toMatchObject({ mode: 'converge', relax: false });
    expect(converge.tables.every((x) => x.strategy.kind === 'converge' && !x.relaxed)).toBe(true);
    // The delete pass compares the NO ACTION foreign-key columns too (owner_id -> users).
    expect(resumed.tables.find((x) => x.table === 'teams')!.noActionColumns).toEqual(['owner_id']);
  });

  it('a PostgreSQL source of 14 or later is read by heap pages; a table of several chunks by every job at once', () => {
    const pg = detection({ engine: 'postgres', serverVersion: '15.20', rowCounts: { ...counts, messages: 2500, events: 1000 } });
    const context = { sourceExclusive: false, targetMissingForeignKeys: false, targetOwnsTables: true };
    const p = plan(pg, target(), undefined, { ...options, jobs: 4 }, context);
    expect(p.tables.every((t) => t.strategy.kind === 'fresh' && t.strategy.chunks === 'pages')).toBe(true);
    // 2500 rows in chunks of 1000: 3 chunks, 3 jobs of the 4; one chunk: one job.
    expect(p.tables.find((t) => t.table === 'messages')!.jobs).toBe(3);
    expect(p.tables.find((t) => t.table === 'events')!.jobs).toBe(1);
    expect(describeStrategy(p.tables.find((t) => t.table === 'messages')!, p)).toBe('fresh load in heap-page chunks of about 1000 rows, 3 jobs at once');
    expect(describeStrategy(p.tables.find((t) => t.table === 'events')!, p)).toBe('fresh load in heap-page chunks of about 1000 rows');
    expect(plan(pg, target(), undefined, { ...options, jobs: 1 }, context).tables.every((t) => t.jobs === 1)).toBe(true);
    // A PGlite store: by pages too, and by every job (its one thread exports the chunks in turn, the jobs' target sessions ingest them at once).
    const local = plan(detection({ rowCounts: { ...counts, messages: 2500 } }), target(), undefined, options, { ...context, sourceExclusive: true });
    expect(local.tables.every((t) => t.strategy.kind === 'fresh' && t.strategy.chunks === 'pages')).toBe(true);
    expect(local.tables.find((t) => t.table === 'messages')!.jobs).toBe(2);
    // Up to PGLITE_TABLE_JOBS (each holds two chunks; the store's one thread feeds them all).
    const many = plan(detection({ rowCounts: { ...counts, messages: 25000 } }), target(), undefined, { ...options, jobs: 8 }, { ...context, sourceExclusive: true });
    expect(many.tables.find((t) => t.table === 'messages')!.jobs).toBe(PGLITE_TABLE_JOBS);
    expect(plan(detection({ engine: 'postgres', serverVersion: '15.20', rowCounts: { ...counts, messages: 25000 } }), target(), undefined, { ...options, jobs: 8 }, context).tables.find((t) => t.table === 'messages')!.jobs).toBe(8);
    // A stopped page copy of a PostgreSQL source starts over, by as many jobs; a key-ordered one
    // (a source before 14, or an earlier version of this tool) goes on after its key, by one.
    const journal: JournalRun = {
      runId: 'run-1', sourceInstance: 'src-1', sourceLocation: 'pg', status: 'running', startedAt: '', finishedXid: null,
      tables: new Map([['messages', { status: 'copying', lastKey: null, byPages: true, rowsCopied: 1000, chunks: 1, rowsAtFinish: null }], ['events', { status: 'copying', lastKey: ['e_1'], byPages: false, rowsCopied: 10, chunks: 1, rowsAtFinish: null }]]),
    };
    const t = target({ schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId: 't-1' }, tier: 'federated', rowCounts: { ...empty, messages: 1000, events: 10 } });
    const resumed = plan(pg, t, journal, options, { ...context, targetMissingForeignKeys: true });
    const messages = resumed.tables.find((x) => x.table === 'messages')!;
    expect(messages.strategy).toEqual({ kind: 'restart', rowsCopied: 1000 });
    expect(messages.jobs).toBe(2);
    const events = resumed.tables.find((x) => x.table === 'events')!;
    expect(events.strategy).toEqual({ kind: 'resume', after: ['e_1'], rowsCopied: 10 });
    expect(events.jobs).toBe(1);
  });

  it.each([
    ['another source\'s data in the target', () => plan(detection(), target({ schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId: 't' }, tier: 'federated', rowCounts: counts }), undefined, options), 'TARGET_NOT_EMPTY'],
    ['no pgvector on the target server', () => plan(detection(), target({ pgvector: { available: false, installed: false, version: null, creatable: false } }), undefined, options), 'VECTOR_UNAVAILABLE'],
    ['a role that may not create it', () => plan(detection(), target({ pgvector: { available: true, installed: false, version: null, creatable: false } }), undefined, options), 'VECTOR_NEEDS_SUPERUSER'],
    ['a downgrade that drops embeddings', () => plan(detection({ embeddings: { column: true, nonNull: 3 } }), target(), undefined, { ...options, to: 'standalone' }), 'DOWNGRADE_DROPS_EMBEDDINGS'],
    ['a source without the schema', () => plan(detection({ schema: { present: false, version: null, state: 'absent', toolVersion: 1, instanceId: null } }), target(), undefined, options), 'SOURCE_NO_SCHEMA'],
    ['a source at another schema version', () => plan(detection({ schema: { present: true, version: 2, state: 'newer', toolVersion: 1, instanceId: 's' } }), target(), undefined, options), 'SOURCE_SCHEMA_MISMATCH'],
    ['a target of another tier', () => plan(detection(), target({ schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId: 't' }, tier: 'standalone', rowCounts: empty }), undefined, options), 'TIER_MISMATCH'],
    ['the same store on both sides', () => plan(detection(), target({ schema: { present: true, version: 1, state: 'current', toolVersion: 1, instanceId: 'src-1' }, tier: 'federated', rowCounts: counts }), undefined, options), 'SAME_LOCATION'],
    ['a PGlite target', () => plan(detection(), detection({ instanceId: 'x' }), undefined, options), 'UNSUPPORTED_TARGET'],
  ])('refuses %s', (_name, make, code) => {
    expect(make).toThrow(expect.objectContaining({ code }));
  });
});
