import cliProgress from 'cli-progress';
import { describeBlockers } from '@mosaic/copy-engine';
import type { CopyEvent, LockWait } from '@mosaic/copy-engine';
import type { Output } from './output.js';

const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;

/** `Waiting for a lock on the target: blocked by pid N (app, idle in transaction since T); waited X s of T` */
export function lockWaitLine(tag: string, wait: LockWait): string {
  const bound = wait.timeoutMs !== null ? ` of ${Math.round(wait.timeoutMs / 1000)}` : '';
  return `[${tag}] Waiting for a lock on the ${wait.side}: blocked by ${describeBlockers(wait.blockers)}; waited ${Math.round(wait.waitedMs / 1000)} s${bound}`;
}

const count = (n: number) => n.toLocaleString('en-US');

/** `  messages: compared in 2.1 s: 5,012 of 65,536 buckets differ; 119,164 rows in the source, 119,730 in the target` */
export function comparedLine(tag: string, e: Extract<CopyEvent, { type: 'table-compared' }>): string {
  const verdict = e.differing === 0 ? `identical in ${count(e.buckets)} bucket${e.buckets === 1 ? '' : 's'}` : `${count(e.differing)} of ${count(e.buckets)} bucket${e.buckets === 1 ? '' : 's'} differ`;
  return `[${tag}]   ${e.table}: compared in ${e.seconds.toFixed(1)} s: ${verdict}; ${count(e.sourceRows)} row${e.sourceRows === 1 ? '' : 's'} in the source, ${count(e.targetRows)} in the target`;
}

/**
 * Progress of a run. On a TTY (stderr): a bar for all tables (rows, MB, rate, ETA) above one bar
 * per table being copied with the same (cli-progress: maintained, multi-bar, handles redraw and
 * non-TTY fallbacks).
 * Otherwise: plain lines, at most one per table every two seconds. --json: nothing. Either way, a
 * statement waiting on a lock is reported every few seconds with who blocks it.
 */
export function progressRenderer(out: Output, tag: string): { onEvent: (e: CopyEvent) => void; stop: () => void } {
  if (out.json) return { onEvent: () => {}, stop: () => {} };
  if (out.stderrIsTty) {
    const multi = new cliProgress.MultiBar({
      format: ' {table} [{bar}] {percentage}% | {value}/{total} rows | {mb} | {rate} rows/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true, // the report that follows lists every table
      stopOnComplete: false,
      barsize: 24,
      stream: process.stderr,
    }, cliProgress.Presets.shades_classic);
    // All tables first, above the bars of the tables being copied (a finished table's bar goes:
    // the report that follows lists every table).
    let overall: { bar: cliProgress.SingleBar; started: number; resumed: number } | undefined;
    const done = new Map<string, { rows: number; bytes: number }>();
    const bars = new Map<string, { bar: cliProgress.SingleBar; started: number; resumed: number }>();
    const updateOverall = () => {
      if (!overall) return;
      let rows = overall.resumed;
      let bytes = 0;
      for (const d of done.values()) {
        rows += d.rows;
        bytes += d.bytes;
      }
      const secs = Math.max((Date.now() - overall.started) / 1000, 0.001);
      overall.bar.setTotal(Math.max(overall.bar.getTotal(), rows, 1));
      overall.bar.update(rows, { mb: mb(bytes), rate: Math.round((rows - overall.resumed) / secs) });
    };
    return {
      onEvent(e) {
        if (e.type === 'lock-wait') multi.log(`${lockWaitLine(tag, e)}\n`);
        if (e.type === 'table-compared') multi.log(`${comparedLine(tag, e)}\n`);
        if (e.type === 'work') {
          overall = { bar: multi.create(Math.max(e.rows, 1), e.resumedRows, { table: 'all tables'.padEnd(20), mb: mb(0), rate: 0 }), started: Date.now(), resumed: e.resumedRows };
        } else if (e.type === 'table-start') {
          bars.set(e.table, { bar: multi.create(Math.max(e.rows, 1), e.resumedRows, { table: e.table.padEnd(20), mb: mb(0), rate: 0 }), started: Date.now(), resumed: e.resumedRows });
        } else if (e.type === 'table-progress') {
          const b = bars.get(e.table);
          if (!b) return;
          const secs = Math.max((Date.now() - b.started) / 1000, 0.001);
          b.bar.setTotal(Math.max(e.rows, 1));
          b.bar.update(e.rowsDone, { mb: mb(e.bytes), rate: Math.round((e.rowsDone - b.resumed) / secs) });
          done.set(e.table, { rows: e.rowsDone - b.resumed, bytes: e.bytes });
          updateOverall();
        } else if (e.type === 'table-done') {
          const b = bars.get(e.table);
          if (b) multi.remove(b.bar);
          done.set(e.table, { rows: e.rows, bytes: e.bytes });
          updateOverall();
        }
      },
      stop: () => multi.stop(),
    };
  }
  const last = new Map<string, number>();
  return {
    onEvent(e) {
      if (e.type === 'lock-wait') out.info(lockWaitLine(tag, e));
      if (e.type === 'phase' && e.phase !== 'copy') out.info(`[${tag}] ${PHASES[e.phase]}`);
      if (e.type === 'table-compared') out.info(comparedLine(tag, e));
      if (e.type === 'table-progress') {
        const now = Date.now();
        if (now - (last.get(e.table) ?? 0) < 2000) return;
        last.set(e.table, now);
        out.info(`[${tag}]   ${e.table}: ${e.rowsDone}/${e.rows} rows (${mb(e.bytes)})`);
      }
      if (e.type === 'table-done') out.info(`[${tag}]   ${e.table}: done, ${e.rows} rows in ${e.seconds.toFixed(1)} s${e.resumed ? ' (resumed)' : ''}`);
    },
    stop: () => {},
  };
}

const PHASES = {
  schema: 'Applying the target schema',
  compare: 'Comparing tables already in the target with the source by bucket checksums',
  copy: 'Copying tables',
  deferred: 'Restoring self-references and the users <-> teams link',
  sequences: 'Moving identity sequences past the copied maximum',
  constraints: 'Building indexes and validating foreign keys (off during the load)',
  finish: 'Closing the run journal',
} as const;
