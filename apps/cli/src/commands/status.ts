import { parseLocation } from '@mosaic/connection';
import { SKIPPED_TABLES } from '@mosaic/schema';
import { detectDatabase } from '@mosaic/tier-detect';
import type { Detection } from '@mosaic/tier-detect';
import { storeState } from '@mosaic/write-freeze';
import type { StoreState } from '@mosaic/write-freeze';
import { CliError } from '../errors.js';
import { withLocation } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';

export interface StatusArgs extends ConnectArgs {
  url: string;
  valkeyUrl?: string | undefined;
  lockTimeout?: number | undefined;
}

/** The write-freeze lines: whether the store takes writes, and the gateways registered in it. */
export function renderStoreState(s: StoreState, location: string): string[] {
  const lines: string[] = [];
  if (s.state === 'retired' && s.retired) {
    lines.push(`Writes     RETIRED at ${s.retired.at} by migration run ${s.retired.runId}: moved to the ${s.retired.tier} tier at ${s.retired.location}; every write is refused (roll back: mosaic storage unfence --url ${location})`);
  } else if (s.state === 'frozen' && s.freeze) {
    const alive = s.holderAlive === false ? '; that run is gone: re-run it, or lift with mosaic storage unfence --url ' + location : s.holderAlive ? '; the run is in progress' : '';
    lines.push(`Writes     FROZEN by migration run ${s.freeze.runId} (by ${s.freeze.by}, since ${s.freeze.since})${alive}`);
  } else {
    lines.push(`Writes     open${s.triggers.enabled > 0 ? ` (but ${s.triggers.enabled} tables carry an enabled freeze trigger: mosaic storage unfence --url ${location})` : ''}`);
  }
  const live = s.gateways.filter((g) => g.live);
  lines.push(`Gateways   ${s.gateways.length === 0 ? 'none registered' : `${live.length} live of ${s.gateways.length} registered`}`);
  for (const g of s.gateways) {
    lines.push(`  ${g.gatewayId}  ${g.host} pid ${g.pid}  ${g.live ? 'live' : 'stale'}, heartbeat ${(g.heartbeatAgeMs / 1000).toFixed(1)} s ago${s.freeze && g.ackedFreezeId === s.freeze.freezeId ? ', acknowledged the freeze' : ''}`);
  }
  return lines;
}

function render(d: Detection): string[] {
  const engine = d.engine === 'pglite' ? `PGlite (PostgreSQL ${d.serverVersion})` : `PostgreSQL ${d.serverVersion}`;
  const vector = d.pgvector.installed ? `installed (${d.pgvector.version})` : d.pgvector.available ? 'available, not installed' : 'not available';
  const schema = d.schema.present ? `v${d.schema.version}${d.schema.state === 'older' ? ` (older than this tool's v${d.schema.toolVersion}: run mosaic storage init to upgrade)` : ''}` : 'none';
  const lines = [
    `Location   ${d.location}`,
    `Engine     ${engine}`,
    `Tier       ${d.tier}`,
    `pgvector   ${vector}`,
    `Schema     ${schema}`,
  ];
  if (d.tier === 'federated') {
    const v = d.valkey;
    lines.push(`Valkey     ${!v ? 'not checked (pass --valkey-url or set MOSAIC_VALKEY_URL)' : v.ok ? `${v.url}: PONG in ${v.latencyMs} ms, ${v.server} ${v.serverVersion}` : `${v.url}: UNREACHABLE (${v.error})`}`);
  }
  const width = Math.max(...Object.keys(d.rowCounts).map((t) => t.length), 5);
  const digits = String(d.totalRows).length;
  lines.push('Rows');
  for (const [table, n] of Object.entries(d.rowCounts)) {
    const note = Object.hasOwn(SKIPPED_TABLES, table) ? '  (not migrated)' : '';
    lines.push(`  ${table.padEnd(width)}  ${String(n).padStart(digits)}${note}`);
  }
  lines.push(`  ${'total'.padEnd(width)}  ${String(d.totalRows).padStart(digits)}`);
  return lines;
}

export async function statusCommand(args: StatusArgs, out: Output): Promise<number> {
  const location = parseLocation(args.url);
  const { detection, store } = await withLocation(location, { applicationName: 'mosaic storage status', connectTimeout: args.connectTimeout, storeWait: { out, tag: 'storage status', timeoutSeconds: args.lockTimeout } }, async (db) => {
    const d = await detectDatabase(db, { valkeyUrl: args.valkeyUrl });
    return { detection: d, store: d.schema.present ? await storeState(db) : undefined };
  });
  if (out.json) out.data(JSON.stringify(store ? { ...detection, writes: store } : detection, null, 2));
  if (!detection.schema.present) {
    const vector = detection.pgvector.installed ? 'pgvector installed' : detection.pgvector.available ? 'pgvector available' : 'no pgvector';
    throw new CliError('NO_SCHEMA', `${detection.location} has no Mosaic schema (${detection.engine === 'pglite' ? 'PGlite' : 'PostgreSQL'} ${detection.serverVersion}, ${vector}): run "mosaic storage init --url ${detection.location}" to create one.`);
  }
  if (detection.schema.state === 'newer') {
    throw new CliError('SCHEMA_TOO_NEW', `${detection.location} holds Mosaic schema v${detection.schema.version}, newer than this tool's v${detection.schema.toolVersion}: upgrade the mosaic tool.`);
  }
  if (!out.json) for (const line of [...render(detection), ...(store ? renderStoreState(store, detection.location) : [])]) out.data(line);
  return 0;
}
