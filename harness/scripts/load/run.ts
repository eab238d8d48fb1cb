import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { runConcurrentSyncs, runConcurrentSyncsInWorker, type ConcurrentSyncsResult } from '../../bench/concurrent-syncs.js';
import { startIngestTraffic, type IngestTraffic } from './ingest-traffic.js';
import { phaseBar } from './progress.js';
import { describeMachine, renderLoadReport, type LoadReport, type PhaseResult } from './report.js';
import { seedTenants } from './seed.js';
import type { LoadSettings } from './settings.js';
import { hubspotPortals, startLoadStack, type LoadStack } from './stack.js';

/**
 * `npm run load`: seed many tenants, keep ingest writing, drive each concurrency level for a
 * bounded time, then an overload phase; write the report to `settings.output` and return it.
 */
export async function runLoad(settings: LoadSettings): Promise<LoadReport> {
  const stack = await startLoadStack(settings);
  let traffic: IngestTraffic | undefined;
  try {
    const { rows } = await stack.server.db.execute<{ version: string }>(sql`SELECT split_part(version(), ' on ', 1) AS version`);
    const machine = describeMachine(rows[0]?.version ?? 'PostgreSQL');

    const hubspot = await onboardHubSpotTenants(stack, settings);
    const seedingStarted = performance.now();
    const total = settings.tenants * settings.contactsPerTenant;
    const seedBar = phaseBar('seeding the mirror', total, 'contacts');
    let seededContacts = 0;
    const seeded = await seedTenants(stack.writer.db, stack.keys, {
      tenants: settings.tenants,
      contactsPerTenant: settings.contactsPerTenant,
      onContacts: (count) => seedBar.update((seededContacts += count)),
    });
    seedBar.stop();
    const seeding = { contacts: total, seconds: (performance.now() - seedingStarted) / 1000 };

    traffic = startIngestTraffic(stack.writer.db, seeded, {
      contactsPerTenant: settings.contactsPerTenant,
      editsPerSecond: settings.editsPerSecond,
      sim: stack.sim.control,
      portalIds: hubspot,
    });
    const auths = [...seeded.map((t) => t.auth), ...hubspotPortals(settings.hubspotTenants).map((p) => ({ access_token: p.tokens[0] }))];
    const phase = async (concurrency: number, title: string): Promise<PhaseResult> => {
      const t = traffic!;
      const before = { written: t.written, crmEdits: t.crmEdits, failedWrites: t.failedWrites };
      const result = await drive(stack, settings, auths, concurrency, title);
      return { result, written: t.written - before.written, crmEdits: t.crmEdits - before.crmEdits, failedWrites: t.failedWrites - before.failedWrites };
    };

    const levels: PhaseResult[] = [];
    for (const concurrency of settings.levels) levels.push(await phase(concurrency, `${concurrency} concurrent runs`));

    let overload: LoadReport['overload'];
    if (settings.overloadConcurrency > 0) {
      const result = await phase(settings.overloadConcurrency, `overload: ${settings.overloadConcurrency} runs`);
      overload = { ...result, recovered: await recovers(stack, auths[0]!) };
    }
    await traffic.stop();
    traffic = undefined;

    const { config } = stack;
    const report: LoadReport = {
      date: new Date(),
      machine,
      settings: {
        'tenants (push, seeded through the mirror writer)': settings.tenants,
        'contacts per tenant': settings.contactsPerTenant,
        'HubSpot tenants (simulated HubSpot, real workers)': `${settings.hubspotTenants} × ${settings.contactsPerTenant.toLocaleString('en-US')} contacts, incremental pass every ${config.SYNC_INTERVAL_SECONDS} s, one CRM edit a second each`,
        'seconds per level (LOAD_SECONDS)': settings.secondsPerLevel,
        'share of incremental runs': settings.incrementalShare,
        'request timeout': `${settings.requestTimeoutMs.toLocaleString('en-US')} ms`,
        'background writes, target (LOAD_EDITS_PER_SECOND)': `${settings.editsPerSecond} contacts/s (what was written is in the table)`,
        'page size (SYNC_PAGE_SIZE)': config.SYNC_PAGE_SIZE,
        'server pool (DATABASE_POOL_SIZE)': config.DATABASE_POOL_SIZE,
        'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS': config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
        'OVERLOAD_MAX_HEAP_USED_BYTES': config.OVERLOAD_MAX_HEAP_USED_BYTES,
        'OVERLOAD_MAX_RSS_BYTES': config.OVERLOAD_MAX_RSS_BYTES,
      },
      seeding,
      levels,
      overload,
    };
    await mkdir(dirname(settings.output), { recursive: true });
    await writeFile(settings.output, renderLoadReport(report));
    return report;
  } finally {
    await traffic?.stop().catch(() => {});
    await stack.close();
  }
}

/** Talkdesk's activation call for each simulated portal, then their backfills to the end. */
async function onboardHubSpotTenants(stack: LoadStack, settings: LoadSettings): Promise<number[]> {
  const portals = hubspotPortals(settings.hubspotTenants);
  if (portals.length === 0) return [];
  for (const portal of portals) {
    // As Talkdesk does, a 503 (the bridge shedding load on a busy machine) is retried after its Retry-After.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${stack.baseUrl}/auth_validation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { access_token: portal.tokens[0] } }),
      });
      if (res.status === 204) break;
      if (res.status !== 503 || attempt === 10) throw new Error(`auth validation of portal ${portal.portalId}: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      await sleep(1000 * Math.max(1, Number(res.headers.get('retry-after')) || 1));
    }
  }
  const total = portals.length * settings.contactsPerTenant;
  const bar = phaseBar('HubSpot backfills', total, 'contacts');
  const until = Date.now() + 10 * 60_000;
  for (;;) {
    const { rows } = await stack.server.db.execute<{ done: number; contacts: number }>(sql`
      SELECT count(*) FILTER (WHERE t.backfill_completed_at IS NOT NULL)::int AS done,
             coalesce(sum(s.backfill_contacts), 0)::int AS contacts
      FROM tenants t JOIN ingest_state s ON s.tenant_id = t.id WHERE t.crm = 'hubspot'`);
    const row = rows[0]!;
    bar.update(row.contacts, `${row.done}/${portals.length} tenants done`);
    if (row.done === portals.length) break;
    if (Date.now() > until) throw new Error('the HubSpot backfills did not complete within 10 minutes');
    await sleep(250);
  }
  bar.stop();
  return portals.map((p) => p.portalId);
}

async function drive(stack: LoadStack, settings: LoadSettings, auths: Record<string, unknown>[], concurrency: number, title: string): Promise<ConcurrentSyncsResult> {
  const bar = phaseBar(title, settings.secondsPerLevel, 's');
  let last = { runs: 0, pages: 0, errors: 0, shed: 0, timeouts: 0 };
  const show = (elapsedMs: number) =>
    bar.update(elapsedMs / 1000, `runs ${last.runs}  pages ${last.pages}  errors ${last.errors}  503 ${last.shed}  timeouts ${last.timeouts}`);
  const started = Date.now();
  // Pages may stop arriving altogether under overload: the bar still moves with the clock.
  const ticker = setInterval(() => show(Date.now() - started), 500);
  try {
    return await runConcurrentSyncsInWorker({
      baseUrl: stack.baseUrl,
      path: stack.config.SYNC_PATH,
      tenants: auths,
      concurrency,
      durationMs: settings.secondsPerLevel * 1000,
      pageSize: stack.config.SYNC_PAGE_SIZE,
      incrementalShare: settings.incrementalShare,
      requestTimeoutMs: settings.requestTimeoutMs,
      onProgress: (p) => {
        last = p;
      },
    });
  } finally {
    clearInterval(ticker);
    show(Date.now() - started);
    bar.stop();
  }
}

/** After the overload: within a Retry-After or two, a lone run completes again. */
async function recovers(stack: LoadStack, auth: Record<string, unknown>): Promise<boolean> {
  for (let attempt = 0; attempt < 6; attempt++) {
    const r = await runConcurrentSyncs({ baseUrl: stack.baseUrl, path: stack.config.SYNC_PATH, tenants: [auth], concurrency: 1, runsPerClient: 1, maxRetryAfterWaitMs: 0 });
    if (r.runs.completed === 1) return true;
    await sleep(5_000);
  }
  return false;
}
