import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database, Location } from '@mosaic/connection';
import { describeGateway, freezeStore } from '@mosaic/write-freeze';
import type { Freeze, RetiredInfo } from '@mosaic/write-freeze';
import type { Output } from './output.js';
import { onShutdown } from './shutdown.js';

/** What the fence of a run's source came to, for --json: frozen, lifted, retired, or left frozen. */
export interface FenceReport {
  readonly runId: string;
  readonly state: 'lifted' | 'frozen' | 'retired' | 'not-frozen';
  readonly retired?: RetiredInfo;
  /** The setting to change so Mosaic uses the new store (redacted; put the password back). */
  readonly configuration?: { readonly MOSAIC_DATABASE_URL: string; readonly MOSAIC_GATEWAY_STORE: string; readonly tier: string };
}

/**
 * The source side of migrate-tier (DESIGN 5.10): freeze every writer under the target lock and
 * before the snapshot; lift it when the run fails or is cancelled; retire (fence) the source
 * once the target is verified. One object per run, used by migrate-tier's steps in order.
 */
export class SourceFreeze {
  readonly runId = randomUUID();
  private freeze: Freeze | undefined;
  private freezing: Promise<Freeze> | undefined;
  private readonly abort = new AbortController();
  private unregister: (() => void) | undefined;

  constructor(
    private readonly source: Database,
    private readonly out: Output,
    private readonly tag: string,
    private readonly timeoutSeconds: number,
    /** --lock-timeout: how long to wait for another run's freeze of the same source to end (undefined: as long as it takes). */
    private readonly lockTimeoutSeconds: number | undefined,
  ) {}

  /** ExecuteOptions.afterLock: freeze, or throw (FREEZE_BLOCKED, FREEZE_ACK_TIMEOUT, STORE_FROZEN) having changed nothing. */
  readonly afterLock = async (): Promise<void> => {
    const { out, tag, source } = this;
    const display = source.location.display;
    out.info(`[${tag}] Freezing writes to the source ${display} (waiting up to ${this.timeoutSeconds} s for writes in flight and gateways)`);
    this.unregister = onShutdown(() => this.cancel());
    this.freezing = freezeStore(source, {
      runId: this.runId,
      by: `mosaic migrate-tier on ${hostname()} pid ${process.pid}`,
      lockTimeoutMs: this.timeoutSeconds * 1000,
      ackTimeoutMs: this.timeoutSeconds * 1000,
      signal: this.abort.signal,
      // Another run from this source (its target lock released, it verifies and retires now).
      holderWait: {
        timeoutMs: this.lockTimeoutSeconds === undefined ? undefined : this.lockTimeoutSeconds * 1000,
        onWait: ({ holder, run, waitedMs }) =>
          out.info(`[${tag}]   the source is frozen by another run${run ? ` (run ${run.runId}, by ${run.by})` : ''}, held by ${holder}: waiting for it to end; waited ${Math.round(waitedMs / 1000)} s${this.lockTimeoutSeconds !== undefined ? ` of ${this.lockTimeoutSeconds}` : ''}`),
      },
      onWaiting: ({ waitedMs, silent }) =>
        out.info(`[${tag}]   waiting for ${silent.length === 1 ? 'a gateway' : `${silent.length} gateways`} to acknowledge the freeze: ${silent.map(describeGateway).join(', ')}; waited ${Math.round(waitedMs / 1000)} s of ${this.timeoutSeconds}`),
    });
    const freeze = await this.freezing;
    this.freeze = freeze;
    if (freeze.tookOver) out.info(`[${tag}] Took over the freeze of run ${freeze.tookOver.runId} (by ${freeze.tookOver.by}, since ${freeze.tookOver.since}), which ended without lifting it`);
    if (freeze.alreadyRetired) out.info(`[${tag}] The source is retired (fenced by an earlier verified run): it already refuses every write; this run converges the target from it`);
    else out.info(`[${tag}] Source frozen: it refuses writes until this run ends (run ${this.runId}${freeze.acknowledged.length > 0 ? `; ${freeze.acknowledged.length} gateway${freeze.acknowledged.length === 1 ? '' : 's'} acknowledged` : ''})`);
  };

  /** Ctrl-C: stop waiting for acknowledgements, lift whatever was frozen. */
  private async cancel(): Promise<void> {
    this.abort.abort();
    await this.freezing?.catch(() => {});
    await this.lift();
  }

  /** A failed run: the source takes writes again (a retired one stays retired). Says so; never throws. */
  async lift(): Promise<FenceReport> {
    this.unregister?.();
    const freeze = this.freeze;
    if (!freeze) return { runId: this.runId, state: 'not-frozen' };
    this.freeze = undefined;
    try {
      const { lifted } = await freeze.lift();
      if (lifted) this.out.info(`[${this.tag}] Freeze lifted: the source ${this.source.location.display} takes writes again`);
      return { runId: this.runId, state: freeze.alreadyRetired ? 'retired' : 'lifted' };
    } catch (error) {
      this.out.error(`mosaic: ${(error as Error).message}`);
      return { runId: this.runId, state: 'frozen' };
    }
  }

  /** --no-verify: leave the source frozen (nothing proved the target holds it all) and say how to finish. */
  async leaveFrozen(): Promise<FenceReport> {
    this.unregister?.();
    const freeze = this.freeze;
    if (!freeze) return { runId: this.runId, state: 'not-frozen' };
    this.freeze = undefined;
    await freeze.detach();
    const src = this.source.location.display;
    this.out.info(`[${this.tag}] Not verified (--no-verify): the source stays ${freeze.alreadyRetired ? 'retired' : 'frozen'} (it refuses writes). To finish, re-run without --no-verify (it converges, verifies and retires the source); to give up, run: mosaic storage unfence --url ${src}`);
    return { runId: this.runId, state: freeze.alreadyRetired ? 'retired' : 'frozen' };
  }

  /** Verified: fence the source for good and print the configuration change. */
  async retire(tier: string, target: Location): Promise<FenceReport> {
    this.unregister?.();
    const freeze = this.freeze;
    if (!freeze) return { runId: this.runId, state: 'not-frozen' };
    this.freeze = undefined;
    try {
      const retired = await freeze.retire({ tier, location: target });
      const configuration = { MOSAIC_DATABASE_URL: retired.location, MOSAIC_GATEWAY_STORE: retired.location, tier };
      if (!this.out.json) {
        this.out.data(`[${this.tag}] Source retired: ${this.source.location.display} refuses writes and new gateways from now on (roll back with: mosaic storage unfence --url ${this.source.location.display})`);
        // The location is redacted: say to put the password back only where there was one.
        const password = retired.location.includes(':***@') ? '; put the password back' : '';
        this.out.data(`[${this.tag}] Configuration change: MOSAIC_DATABASE_URL=${retired.location} (tier ${tier}${password}), then restart Mosaic's gateways`);
        this.out.data(`[${this.tag}] Gateways: MOSAIC_GATEWAY_STORE=${retired.location} (the plugin's store option; tier '${tier}'). Those with cutover live and the target URL (targetUrl, MOSAIC_GATEWAY_TARGET_URL) switch by themselves; the others refuse writes until restarted on it`);
      }
      return { runId: this.runId, state: 'retired', retired, configuration };
    } catch (error) {
      // FREEZE_LOST: the freeze did not hold; lift what is left of it and fail the run.
      await freeze.lift().catch(() => {});
      throw error;
    }
  }
}
