// `npm run bench`: the sync endpoint at BENCH_CONTACTS contacts against PostgreSQL's own limit,
// side by side in one run, on the local PostgreSQL and Redis the tests use. Prints the table and
// writes docs/benchmarks.md, docs/benchmarks.json and docs/page-latency-by-depth.svg.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.js';
import { writeContacts } from '../../src/mirror/writer.js';
import { deriveKeys } from '../../src/tenants/keys.js';
import { createTenant } from '../../src/tenants/repository.js';
import { runConcurrentSyncs } from './concurrent-syncs.js';
import { createBenchDatabase } from './database.js';
import { copyLimit, type CopyRun } from './phases/copy-limit.js';
import { crmBoundIngest } from './phases/crm-ingest.js';
import { hubspotWebhookBench, webhookLatency } from './phases/webhook-latency.js';
import { pipedriveWebhookBench } from './phases/pipedrive-webhook-bench.js';
import { pageLatencyByDepth } from './phases/depth.js';
import { fullSync, type FullSyncRun } from './phases/full-sync.js';
import { incrementalNoChange } from './phases/incremental.js';
import { lookupLatency } from './phases/lookup.js';
import { writerHistoryCost } from './phases/writer-history.js';
import { httpWriter, inProcessWriter, rewrite, writeRange } from './phases/ingest.js';
import { machine } from './machine.js';
import { progress } from './progress.js';
import { writeReport } from './report.js';
import { startServer, type ServerProcess } from './server-process.js';
import { benchServices } from './services.js';
import { loadBenchSettings, type BenchSettings } from './settings.js';
import type { BenchResults, FullSyncFigures } from './results.js';
import { median } from './stats.js';

const SECRET = 'bench-secret-bench-secret-bench-secret';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

export async function runBenchmarks(settings: BenchSettings, services = benchServices()): Promise<BenchResults> {
  const started = new Date();
  const defaultPageSize = loadConfig({ DATABASE_URL: 'postgres://x', REDIS_URL: 'redis://x', BRIDGE_SECRET: SECRET }).SYNC_PAGE_SIZE;
  const database = await createBenchDatabase(services.adminUrl, 10);
  const keys = deriveKeys(SECRET);
  const serverEnv = {
    DATABASE_URL: database.url,
    REDIS_URL: services.redisUrl,
    BRIDGE_SECRET: SECRET,
    ADMIN_TOKEN,
    QUEUE_PREFIX: `cbbench${randomBytes(3).toString('hex')}`,
    LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
  };
  const servers: ServerProcess[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const s = await startServer({ ...serverEnv, ...env });
    servers.push(s);
    return s;
  };
  try {
    const total = settings.BENCH_CONTACTS;
    const batchSize = Math.min(settings.BENCH_BATCH, 10_000);
    const rewriteCount = Math.min(settings.BENCH_REWRITE, total);
    const mainAuth = { api_key: 'bench-main' };
    const main = await createTenant(database.db, keys, { name: 'bench-main', crm: 'push', auth: mainAuth, backfillComplete: true });

    // Small tenants first, so the big ones' rows come after theirs and tenant filtering is real.
    const smallAuths = Array.from({ length: settings.BENCH_CONCURRENT_TENANTS }, (_, i) => ({ api_key: `bench-small-${i}` }));
    const bar = progress('small tenants', smallAuths.length, 'tenants');
    for (const [i, auth] of smallAuths.entries()) {
      const t = await createTenant(database.db, keys, { name: `bench-small-${i}`, crm: 'push', auth, backfillComplete: true });
      for (let s = 0; s < settings.BENCH_CONCURRENT_CONTACTS; s += batchSize) {
        const n = Math.min(batchSize, settings.BENCH_CONCURRENT_CONTACTS - s);
        await writeContacts(database.db, t.id, Array.from({ length: n }, (_, k) => ({ id: `s${i}-${s + k}`, name: `Small ${i}-${s + k}`, phones: [`+1415555${String(k).padStart(4, '0')}`] })), 'admin_push');
      }
      bar.increment();
    }
    bar.stop();

    let server = await start();
    const inProcess = await writeRange('writer, in process', inProcessWriter((b) => writeContacts(database.db, main.id, b, 'admin_push')), {
      from: 0, to: total, version: 0, batchSize, expect: 'inserted',
    });
    const created = await fetch(`${server.baseUrl}/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-http', auth: { api_key: 'bench-http' } }),
    });
    if (created.status !== 201) throw new Error(`admin POST /admin/tenants: HTTP ${created.status} ${await created.text()}`);
    const httpTenant = ((await created.json()) as { id: string }).id;
    const overHttp = httpWriter(server.baseUrl, ADMIN_TOKEN, httpTenant);
    const http = await writeRange('writer, admin PUT over HTTP', overHttp, { from: 0, to: total, version: 0, batchSize, expect: 'inserted' });
    const rewriteInProcess = await rewrite('rewrite in process', inProcessWriter((b) => writeContacts(database.db, main.id, b, 'admin_push')), rewriteCount, batchSize, 1);
    const rewriteHttp = await rewrite('rewrite over HTTP', overHttp, rewriteCount, batchSize, 1);
    overHttp.close();
    const writerHistory = await writerHistoryCost(database.db, keys, Math.min(settings.BENCH_HISTORY_CONTACTS, total), batchSize);
    // Bulk pushes grow the heap (4 MB bodies); a server that only answers Talkdesk is what the
    // memory figure is about, so the sync phases get a fresh process.
    const pushPeakRssBytes = server.peakRss();
    await server.stop();
    // What autovacuum does after a bulk load, done now so the read phases do not race it.
    await database.db.execute(sql`VACUUM (ANALYZE) contacts`);

    const copyRuns: CopyRun[] = [];
    for (let r = 0; r < settings.BENCH_ROUNDS; r++) copyRuns.push(await copyLimit(database.pool, main.id));
    const copySeconds = median(copyRuns.map((r) => r.seconds));

    // Servers measured side by side take turns run by run, so noise falls on each alike.
    const syncFigures = async (servers: { s: ServerProcess; readAhead: boolean }[], pageSize: number): Promise<FullSyncFigures[]> => {
      for (const { s } of servers) s.resetPeakRss();
      const runs: FullSyncRun[][] = servers.map(() => []);
      for (let r = 0; r < settings.BENCH_ROUNDS; r++) {
        for (const [i, { s, readAhead }] of servers.entries()) {
          runs[i]!.push(await fullSync(s.baseUrl, mainAuth, total, `full sync, page size ${pageSize}${readAhead ? '' : ', no read-ahead'}`));
        }
      }
      return servers.map(({ s, readAhead }, i) => {
        const seconds = median(runs[i]!.map((r) => r.seconds));
        const serverSeconds = median(runs[i]!.map((r) => r.serverSeconds));
        return { pageSize, readAhead, runs: runs[i]!, seconds, serverSeconds, ratioToCopy: seconds / copySeconds, peakRssBytes: s.peakRss() };
      });
    };
    server = await start();
    const withoutReadAhead = await start({ SYNC_READ_AHEAD: 'false' });
    const [fullDefault, fullNoReadAhead] = (await syncFigures(
      [
        { s: server, readAhead: true },
        { s: withoutReadAhead, readAhead: false },
      ],
      defaultPageSize,
    )) as [FullSyncFigures, FullSyncFigures];
    await withoutReadAhead.stop();
    const checkpoint = fullDefault.runs[fullDefault.runs.length - 1]!.checkpoint;
    const incremental = await incrementalNoChange(server.baseUrl, mainAuth, checkpoint, settings.BENCH_INCREMENTAL_REQUESTS);

    const concurrentBar = progress(`${smallAuths.length} tenants syncing at once`, settings.BENCH_CONCURRENT_SECONDS, 's');
    let shown = 0;
    const concurrency = await runConcurrentSyncs({
      baseUrl: server.baseUrl,
      tenants: smallAuths,
      concurrency: smallAuths.length,
      durationMs: settings.BENCH_CONCURRENT_SECONDS * 1000,
      pageSize: defaultPageSize,
      onProgress: (p) => {
        const s = Math.min(settings.BENCH_CONCURRENT_SECONDS, Math.floor(p.elapsedMs / 1000));
        if (s > shown) concurrentBar.increment(s - shown);
        shown = Math.max(shown, s);
      },
    });
    concurrentBar.stop();
    await server.stop();

    const fullOthers: FullSyncFigures[] = [];
    for (const pageSize of settings.BENCH_OTHER_PAGE_SIZES.split(',').map(Number)) {
      server = await start({ SYNC_PAGE_SIZE: String(pageSize) });
      fullOthers.push(...(await syncFigures([{ s: server, readAhead: true }], pageSize)));
      await server.stop();
    }

    const depth = await pageLatencyByDepth(database.db, main.id, {
      live: total,
      pageSize: defaultPageSize,
      depths: [0, 0.25, 0.5, 0.75, 1],
      rounds: settings.BENCH_DEPTH_ROUNDS,
      keysetSamples: settings.BENCH_KEYSET_SAMPLES,
      offsetSamples: settings.BENCH_OFFSET_SAMPLES,
    });

    server = await start();
    const lookup = await lookupLatency(database.db, { baseUrl: server.baseUrl, adminToken: ADMIN_TOKEN, tenantId: main.id, contacts: total, samples: settings.BENCH_LOOKUP_SAMPLES });
    await server.stop();

    const crmIngest = await crmBoundIngest({ ...services, contacts: settings.BENCH_BACKFILL_CONTACTS });
    const webhooks = await webhookLatency({
      ...services,
      crm: hubspotWebhookBench,
      contacts: 100,
      edits: settings.BENCH_WEBHOOK_EDITS,
      syncIntervalSeconds: settings.BENCH_WEBHOOK_POLL_SECONDS,
    });
    const webhooksPipedrive = await webhookLatency({
      ...services,
      crm: pipedriveWebhookBench,
      contacts: 100,
      edits: settings.BENCH_WEBHOOK_EDITS,
      syncIntervalSeconds: settings.BENCH_WEBHOOK_POLL_SECONDS,
    });

    return {
      date: started.toISOString(),
      machine: await machine(database.db),
      settings,
      ingest: { inProcess, http, rewriteInProcess, rewriteHttp, pushPeakRssBytes },
      copy: { runs: copyRuns, seconds: copySeconds, bytes: copyRuns[0]!.bytes },
      fullSync: [fullDefault, fullNoReadAhead, ...fullOthers],
      depth,
      incremental,
      concurrency,
      crmIngest,
      webhooks,
      webhooksPipedrive,
      writerHistory,
      lookup,
    };
  } finally {
    for (const s of servers) await s.stop();
    await database.drop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const settings = loadBenchSettings();
  const results = await runBenchmarks(settings);
  const table = await writeReport(results, settings.BENCH_OUT);
  console.log(table);
}
