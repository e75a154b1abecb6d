import { parseLocation } from '@mosaic/connection';
import { readSchemaInfo } from '@mosaic/schema';
import { storeState, unfence } from '@mosaic/write-freeze';
import { CliError } from '../errors.js';
import { EXIT } from '../exit.js';
import { withLocation } from '../open.js';
import type { ConnectArgs } from '../open.js';
import type { Output } from '../output.js';
import { confirm } from '../prompt.js';

export interface UnfenceArgs extends ConnectArgs {
  url: string;
  yes: boolean;
  lockTimeout?: number | undefined;
}

const TAG = 'storage unfence';

/**
 * The operator's rollback of a migration's fence: a retired store (or one a killed run left
 * frozen) takes writes again. A retired store moved elsewhere, so that needs --yes (or a y at
 * the terminal): writes made to the new store since are not in this one.
 */
export async function unfenceCommand(args: UnfenceArgs, out: Output): Promise<number> {
  const location = parseLocation(args.url);
  return withLocation(location, { applicationName: `mosaic ${TAG}`, connectTimeout: args.connectTimeout, storeWait: { out, tag: TAG, timeoutSeconds: args.lockTimeout } }, async (db) => {
    if (!(await readSchemaInfo(db))) throw new CliError('NO_SCHEMA', `${location.display} has no Mosaic schema: there is nothing to unfence.`);
    const before = await storeState(db);
    if (before.state === 'retired' && !args.yes) {
      const r = before.retired!;
      const question = `${location.display} was retired: it moved to the ${r.tier} tier at ${r.location}. Writes made there since are not in this store. Take writes here again?`;
      if (!process.stdin.isTTY) throw new CliError('USAGE', `Refusing to unfence without confirmation: ${location.display} was retired (moved to ${r.location}); pass --yes (or run in a terminal to be asked). Nothing was changed.`);
      if (!(await confirm(question))) {
        out.info(`[${TAG}] Cancelled. Nothing was changed.`);
        return EXIT.USAGE;
      }
    }
    const result = await unfence(db, args.lockTimeout !== undefined ? { lockTimeoutMs: args.lockTimeout * 1000 } : {});
    if (out.json) {
      out.data(JSON.stringify({ location: location.display, ...result }, null, 2));
    } else if (result.was === 'retired') {
      const r = result.retired!;
      out.data(`[${TAG}] ${location.display} takes writes again: it was retired at ${r.at} by migration run ${r.runId} (moved to the ${r.tier} tier at ${r.location}). Point Mosaic back at it only if nothing writes to ${r.location} any more.`);
    } else if (result.was === 'frozen') {
      const f = result.freeze!;
      out.data(`[${TAG}] ${location.display} takes writes again: lifted the freeze of migration run ${f.runId} (by ${f.by}, since ${f.since}), which ended without lifting it.`);
    } else {
      out.data(`[${TAG}] ${location.display} is neither frozen nor retired${result.triggersRemoved > 0 ? ` (removed ${result.triggersRemoved} disabled freeze triggers a lift left behind)` : ''}: it takes writes.`);
    }
    return EXIT.OK;
  });
}
