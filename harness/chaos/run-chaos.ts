import { CrmEditor } from './crm-edits.js';
import { crmWorld, PipedriveEditor } from './crms.js';
import { FaultInjector } from './fault-injector.js';
import { emptyFigures, type Figures } from './figures.js';
import { compareWithCrm, deletionResync, oneMoreRun } from './final-check.js';
import { describeLag, tenantsByPortal, waitForBackfill, waitForCatchUp, waitForDeletionWindow } from './ingest-progress.js';
import { stream } from './random.js';
import { betweenRounds, runRound, type RoundSettings } from './round-loop.js';
import { startChaosStack } from './stack.js';
import { TalkdeskSynchronizer, type TalkdeskAccount } from './synchronizer.js';
import { defaultWorkerEntry, type WorkerEntry } from './worker-processes.js';

export interface ChaosOptions {
  rounds: number;
  seed: number;
  /** A PostgreSQL role that may CREATE DATABASE (TEST_DATABASE_URL). */
  adminDatabaseUrl: string;
  /** TEST_REDIS_URL. */
  redisUrl: string;
  /** Default: src/server.ts, with this process's loader flags. */
  workerEntry?: WorkerEntry;
  workers?: number;
  portals?: number;
  contactsPerPortal?: number;
  smallPageSize?: number;
  round?: Partial<RoundSettings>;
  /** How long ingest may take to catch up at the end before the run calls it lost. */
  catchUpTimeoutMs?: number;
  /** A Pipedrive company beside the HubSpot portals (default true), with this many persons (contactsPerPortal). */
  pipedrive?: boolean;
  /** Progress lines: one per round, and what happens at the end. */
  log?: (line: string) => void;
  /** Stops the run before its next round (Ctrl-C in the script); it still cleans up. */
  signal?: AbortSignal;
}

/** A worker's start-up from source on a busy two-core machine has taken half a minute. */
const WORKERS_UP_WITHIN_MS = 120_000;

const DEFAULT_ROUND: RoundSettings = {
  roundMs: [1500, 4000],
  writesPerRound: [4, 30],
  syncsPerRound: [1, 3],
  faultBetweenRounds: 0.3,
};

/**
 * The chaos consistency run: rounds of CRM writes, Talkdesk runs and faults while real worker
 * processes ingest; then writes stop, faults clear, ingest catches up, Talkdesk runs once more
 * (and the full run the deletion rule asks for), and its copies are compared with the CRM.
 */
export async function runChaos(options: ChaosOptions): Promise<Figures> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const settings = { ...DEFAULT_ROUND, ...options.round };
  const portalCount = options.portals ?? 2;
  const figures = emptyFigures(options.seed, options.rounds, portalCount + ((options.pipedrive ?? true) ? 1 : 0), options.workers ?? 2);
  const accounts: TalkdeskAccount[] = Array.from({ length: portalCount }, (_, i) => ({
    portalId: 9301 + i,
    auth: { access_token: `chaos-token-${9301 + i}` },
  }));
  const withPipedrive = options.pipedrive ?? true;
  // Talkdesk's copies are keyed by account: the company's id beside the portals'.
  const pdAccount: TalkdeskAccount = { portalId: PIPEDRIVE_COMPANY, auth: { api_token: 'chaos-pd-token' } };

  const stack = await startChaosStack({
    adminDatabaseUrl: options.adminDatabaseUrl,
    redisUrl: options.redisUrl,
    portals: accounts.map((a) => ({ portalId: a.portalId, token: String(a.auth.access_token), contacts: options.contactsPerPortal ?? 300 })),
    ...(withPipedrive ? { pipedrive: { companyId: PIPEDRIVE_COMPANY, token: String(pdAccount.auth.api_token), persons: options.contactsPerPortal ?? 300 } } : {}),
    simSeed: options.seed,
    workers: figures.workers,
    workerEntry: options.workerEntry ?? defaultWorkerEntry(),
    smallPageSize: options.smallPageSize ?? 7,
    onWorkerOutput: log,
  });
  try {
    const portalIds = accounts.map((a) => a.portalId);
    const allAccounts = stack.pipedrive ? [...accounts, pdAccount] : accounts;
    const crms = crmWorld(stack.sim, stack.pipedrive);
    const synchronizer = new TalkdeskSynchronizer(allAccounts, stack.targets, stream(options.seed, 'sync'), figures.sync);
    const faults = new FaultInjector(
      { ...stack, sim: stack.sim, portalIds, terminateBackends: () => stack.terminateBackends() },
      stream(options.seed, 'faults'),
      figures.faults,
    );
    const parts = {
      editor: new CrmEditor(
        stack.sim,
        portalIds,
        stream(options.seed, 'crm'),
        figures.crm,
        stack.pipedrive && { editor: new PipedriveEditor(stack.pipedrive, stream(options.seed, 'pipedrive'), figures.crm), share: 1 / (portalCount + 1) },
      ),
      synchronizer,
      faults,
      portalIds: allAccounts.map((a) => a.portalId),
      rng: stream(options.seed, 'rounds'),
    };

    // Talkdesk's first sync of each account onboards it (zero-touch) and starts its backfill,
    // and answers without a checkpoint until the backfill is complete.
    for (const { portalId } of allAccounts) await synchronizer.runStrict(portalId);
    await waitForBackfill(stack.database.db, 120_000);
    log(`seed ${options.seed}: ${allAccounts.length} tenants onboarded (${portalCount} HubSpot${stack.pipedrive ? ', 1 Pipedrive' : ''}), ${figures.workers} worker processes, ${options.rounds} rounds`);

    const plan = faults.plan(options.rounds);
    for (let r = 0; r < options.rounds; r++) {
      options.signal?.throwIfAborted();
      const before = { runs: figures.sync.runs, full: figures.sync.full, failed: failedRuns(figures) };
      const round = await runRound(parts, settings, plan[r]!);
      const extra = await betweenRounds(parts, settings);
      const injected = [...round.faults, ...(extra ? [`${extra} (after)`] : [])];
      log(
        `round ${r + 1}/${options.rounds}: ${round.writes} CRM writes, ${figures.sync.runs - before.runs} sync runs ` +
          `(${figures.sync.full - before.full} full, ${failedRuns(figures) - before.failed} failed), ` +
          `faults: ${injected.join(', ') || 'none'}`,
      );
    }

    // The end: writes stop, faults clear, and ingest is given the time it needs.
    await faults.clear();
    await synchronizer.idle();
    // The catch-up deadline is for ingest, not for a restarted process's start-up.
    await stack.workers.allUp(WORKERS_UP_WITHIN_MS);
    const tenants = await tenantsByPortal(stack.database.db);
    figures.catchUpSeconds = await waitForCatchUp(stack.database.db, crms, tenants, options.catchUpTimeoutMs ?? 120_000);
    if (figures.catchUpSeconds !== null) log(`ingest caught up in ${figures.catchUpSeconds.toFixed(1)} s`);
    else for (const line of ['ingest did NOT catch up:', ...(await describeLag(stack.database.db, crms, tenants))]) log(line);
    figures.afterIncremental = await oneMoreRun(synchronizer, crms);
    await waitForDeletionWindow(stack.database.db, Number(stack.env.DELETION_RESYNC_SECONDS), 60_000);
    await deletionResync(synchronizer);
    Object.assign(figures, compareWithCrm(synchronizer, crms));
    figures.workerCrashes = stack.workers.crashes;
    figures.crmFaultAnswers = crmFaultAnswers(stack.sim.stats());
    return figures;
  } finally {
    await stack.close();
    figures.durationSeconds = (Date.now() - started) / 1000;
  }
}

/** The Pipedrive company's id: an account number apart from the portals'. */
const PIPEDRIVE_COMPANY = 7301;

const failedRuns = (f: Figures) => Object.values(f.sync.failed).reduce((a, b) => a + b, 0);

/** What HubSpot actually answered with 429 and 5xx (injected, and its own limits). */
function crmFaultAnswers(stats: { byEndpoint: Record<string, Record<string, number>> }): Figures['crmFaultAnswers'] {
  let rateLimited = 0;
  let serverErrors = 0;
  for (const byStatus of Object.values(stats.byEndpoint)) {
    for (const [status, n] of Object.entries(byStatus)) {
      if (status === '429') rateLimited += n;
      else if (status.startsWith('5')) serverErrors += n;
    }
  }
  return { rateLimited, serverErrors };
}
