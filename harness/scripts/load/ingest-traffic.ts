import { setTimeout as sleep } from 'node:timers/promises';
import { benchContact } from '../../bench/contacts.js';
import type { Db } from '../../../src/db/client.js';
import type { SimControl } from '../../hubspot-sim/control.js';
import { writeContacts } from '../../../src/mirror/writer.js';
import type { SeededTenant } from './seed.js';

export interface IngestTraffic {
  /** Contacts rewritten through the mirror writer so far (each a real change). */
  readonly written: number;
  /** Batches the writer refused or could not take (a pool wait past its timeout under overload). */
  readonly failedWrites: number;
  /** Edits made in the simulated HubSpot so far (the workers carry them into the mirror). */
  readonly crmEdits: number;
  /** Stops both loops and waits for the write in flight. */
  stop(): Promise<void>;
}

const TICK_MS = 100;
// The writer pool's size (stack.ts).
const WRITERS = 4;

/**
 * Ingest keeps writing while Talkdesk syncs, as in production: a loop that rewrites
 * `editsPerSecond` contacts a second through the mirror writer (four loops, each writing a small
 * batch of one random tenant every 100 ms, so writes and syncs of one tenant do meet), and one edit a second in each
 * simulated HubSpot portal for the real workers to ingest. Each rewrite is a new version of the
 * contact, so none is skipped as unchanged. When a batch takes longer than its tick, the loop
 * does not pile up writes: the rate drops, and `written` says what was really done.
 */
export function startIngestTraffic(
  db: Db,
  tenants: readonly SeededTenant[],
  { contactsPerTenant, editsPerSecond, sim, portalIds }: { contactsPerTenant: number; editsPerSecond: number; sim: SimControl; portalIds: readonly number[] },
): IngestTraffic {
  let running = true;
  let written = 0;
  let crmEdits = 0;
  let failedWrites = 0;
  let version = 0;
  const perTick = Math.max(0, Math.round((editsPerSecond * TICK_MS) / 1000));

  // Anything else failing ends the loops; stop() reports it rather than an unhandled rejection mid-load.
  let failure: unknown;
  const guard = (loop: Promise<void>) =>
    loop.catch((err: unknown) => {
      failure ??= err;
      running = false;
    });

  // One loop per writer connection, each with its share of the rate: a slow batch then delays
  // only its own loop, as separate ingest jobs do.
  const writerLoop = async (share: number) => {
    if (share === 0 || tenants.length === 0) return;
    while (running) {
      const tickStarted = Date.now();
      const tenant = tenants[Math.floor(Math.random() * tenants.length)]!;
      version++;
      const batch = Array.from({ length: share }, () => benchContact(Math.floor(Math.random() * contactsPerTenant), version, tenant.seed));
      try {
        const counts = await writeContacts(db, tenant.id, batch, 'poll');
        written += counts.inserted + counts.updated;
      } catch {
        // Under overload a write may wait past the pool's connect timeout; ingest retries, so does this loop.
        failedWrites++;
      }
      await sleep(Math.max(0, TICK_MS - (Date.now() - tickStarted)));
    }
  };
  const writerLoops = Array.from({ length: WRITERS }, (_, i) =>
    guard(writerLoop(Math.floor(perTick / WRITERS) + (i < perTick % WRITERS ? 1 : 0))),
  );

  const crmLoop = guard((async () => {
    if (portalIds.length === 0) return;
    const ids = new Map(portalIds.map((portalId) => [portalId, sim.liveContacts({ portalId }).map((c) => c.id)]));
    while (running) {
      for (const portalId of portalIds) {
        const list = ids.get(portalId)!;
        if (list.length === 0) continue;
        sim.editContact(list[Math.floor(Math.random() * list.length)]!, { jobtitle: `load edit ${++crmEdits}` }, { portalId });
      }
      await sleep(1000);
    }
  })());

  return {
    get written() {
      return written;
    },
    get crmEdits() {
      return crmEdits;
    },
    get failedWrites() {
      return failedWrites;
    },
    async stop() {
      running = false;
      await Promise.all([...writerLoops, crmLoop]);
      if (failure) throw failure;
    },
  };
}
