import { parseLocation } from '@mosaic/connection';
import type { Database } from '@mosaic/connection';
import { compare } from '@mosaic/verify';
import type { VerifyReport } from '@mosaic/verify';
import { CliError } from '../errors.js';
import { EXIT } from '../exit.js';
import { withLocation } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';

export interface VerifyArgs extends ConnectArgs {
  source: string;
  targetUrl: string;
  lockTimeout?: number | undefined;
}

/** The per-table table, the rules, and the differing keys; data, so stdout. */
export function printVerify(report: VerifyReport, out: Output, tag: string): void {
  const width = Math.max(...report.tables.map((t) => t.table.length), 5);
  const num = (n: number) => String(n).padStart(9);
  out.data(`${'table'.padEnd(width)}  ${'source'.padStart(9)}  ${'target'.padStart(9)}  checksum  status`);
  for (const t of report.tables) out.data(`${t.table.padEnd(width)}  ${num(t.sourceRows)}  ${num(t.targetRows)}  ${t.checksum.padEnd(8)}  ${t.status}`);
  for (const r of report.rules) out.data(`${r.ok ? '✓' : '✗'} ${r.rule}: ${r.detail}`);
  for (const t of report.tables.filter((v) => v.status !== 'identical')) {
    const { missing, extra, changed } = t.differences;
    if (missing.length) out.data(`  ${t.table}: missing in the target: ${missing.join(', ')}`);
    if (extra.length) out.data(`  ${t.table}: only in the target: ${extra.join(', ')}`);
    if (changed.length) out.data(`  ${t.table}: different rows: ${changed.join(', ')}`);
  }
  if (report.ok) out.data(`[${tag}] Verified: ${report.tables.length} tables, ${report.identicalRows} ${report.identicalRows === 1 ? 'row' : 'rows'} identical (${report.seconds.toFixed(1)} s).`);
}

/** Exit 4 with one line naming what differs. */
export function differencesError(report: VerifyReport): CliError {
  const tables = report.tables.filter((t) => t.status !== 'identical').map((t) => t.table);
  const rules = report.rules.filter((r) => !r.ok).map((r) => r.rule);
  const parts = [tables.length ? `tables ${tables.join(', ')}` : '', rules.length ? `rules ${rules.join(', ')}` : ''].filter(Boolean);
  return new CliError('VERIFY_DIFFERENCES', `Verification found differences (${parts.join('; ')}): see the lines above for the keys; a re-run of migrate-tier converges the target.`);
}

export async function runVerify(source: Database, target: Database): Promise<VerifyReport> {
  return compare(source, target);
}

export async function verifyCommand(args: VerifyArgs, out: Output): Promise<number> {
  const sourceLoc = parseLocation(args.source);
  const targetLoc = parseLocation(args.targetUrl);
  return withLocation(sourceLoc, { applicationName: 'mosaic storage verify (source)', readThrough: true, connectTimeout: args.connectTimeout, storeWait: { out, tag: 'verify', timeoutSeconds: args.lockTimeout } }, (source) =>
    withLocation(targetLoc, { applicationName: 'mosaic storage verify', connectTimeout: args.connectTimeout }, async (target) => {
      const report = await runVerify(source, target);
      if (out.json) out.data(JSON.stringify(report, null, 2));
      else printVerify(report, out, 'verify');
      if (!report.ok) throw differencesError(report);
      return EXIT.OK;
    }));
}
