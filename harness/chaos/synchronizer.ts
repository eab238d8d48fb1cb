import { SyncHttpError, type SyncCall } from '../../src/cli/talkdesk-client.js';
import { TalkdeskCopy } from '../talkdesk/copy.js';
import type { SyncCounts } from './figures.js';
import type { Prng } from './random.js';

/** One way to reach the bridge: over HTTP or in-process, from an app with large or small pages. */
export interface SyncTarget {
  transport: 'http' | 'inject';
  smallPages: boolean;
  endpoint: SyncCall;
}

export interface TalkdeskAccount {
  portalId: number;
  auth: Record<string, unknown>;
}

/**
 * Talkdesk's synchronizer for every account of the run: one copy per account, kept exactly as
 * Talkdesk keeps it (harness/talkdesk/copy.ts), synced at the moments the round loop picks,
 * through a target picked at random. Runs of one account never overlap, as Talkdesk's do not; a
 * run asked for while one is going waits for it.
 */
export class TalkdeskSynchronizer {
  readonly copies = new Map<number, TalkdeskCopy>();
  private readonly running = new Map<number, Promise<void>>();

  constructor(
    accounts: readonly TalkdeskAccount[],
    private readonly targets: readonly SyncTarget[],
    private readonly rng: Prng,
    private readonly counts: SyncCounts,
  ) {
    for (const a of accounts) this.copies.set(a.portalId, new TalkdeskCopy(targets[0]!.endpoint, a.auth));
  }

  /** One run for the account through a random target. A failed run is counted and discarded. */
  run(portalId: number): Promise<void> {
    const target = this.rng.pick(this.targets);
    const previous = this.running.get(portalId) ?? Promise.resolve();
    const next = previous.then(() => this.runThrough(portalId, target));
    this.running.set(portalId, next);
    return next;
  }

  /** One run for the account over the given target; throws when it fails (the final runs must not). */
  async runStrict(portalId: number, target: SyncTarget = this.targets[0]!): Promise<void> {
    await this.running.get(portalId);
    const copy = this.copies.get(portalId)!;
    this.count(target, await copy.sync(target.endpoint));
  }

  /** Resolves when no run is going. */
  async idle(): Promise<void> {
    await Promise.all(this.running.values());
  }

  private async runThrough(portalId: number, target: SyncTarget): Promise<void> {
    const copy = this.copies.get(portalId)!;
    try {
      this.count(target, await copy.sync(target.endpoint));
    } catch (err) {
      const what =
        err instanceof SyncHttpError
          ? `${err.status} ${(err.body as { error?: string } | undefined)?.error ?? ''}`.trim()
          : `error ${(err as Error).message}`;
      this.counts.failed[what] = (this.counts.failed[what] ?? 0) + 1;
    }
  }

  private count(target: SyncTarget, run: { full: boolean; pages: number }): void {
    const c = this.counts;
    c.runs++;
    if (run.full) c.full++;
    else c.incremental++;
    c.pages += run.pages;
    if (target.transport === 'http') c.overHttp++;
    else c.inProcess++;
    if (target.smallPages) c.smallPages++;
  }
}
