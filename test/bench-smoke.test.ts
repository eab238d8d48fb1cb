import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runBenchmarks } from '../harness/bench/run.js';
import { writeReport } from '../harness/bench/report.js';
import { loadBenchSettings } from '../harness/bench/settings.js';
import { postgresAdminUrl, testRedisUrl } from './helpers/services.js';

// The benchmark itself is not a test and asserts no timing: this runs every phase at a tiny size
// and checks it completes, measured real work, and writes a well-formed report.
// The server processes inherit this environment: a machine busy with other test files must not
// make them shed the benchmark's requests (load shedding has tests of its own).
process.env.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS = '0';

t.test('npm run bench completes at 2,000 contacts and writes a well-formed table, JSON and plot', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'cb-bench-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const settings = loadBenchSettings({
    BENCH_CONTACTS: '2000',
    BENCH_BATCH: '500',
    BENCH_REWRITE: '600',
    BENCH_OTHER_PAGE_SIZES: '1500',
    BENCH_ROUNDS: '1',
    BENCH_DEPTH_ROUNDS: '2',
    BENCH_KEYSET_SAMPLES: '3',
    BENCH_OFFSET_SAMPLES: '2',
    BENCH_INCREMENTAL_REQUESTS: '20',
    BENCH_CONCURRENT_TENANTS: '4',
    BENCH_CONCURRENT_CONTACTS: '30',
    BENCH_CONCURRENT_SECONDS: '1',
    BENCH_BACKFILL_CONTACTS: '300',
    BENCH_WEBHOOK_EDITS: '3',
    BENCH_WEBHOOK_POLL_SECONDS: '1',
    BENCH_HISTORY_CONTACTS: '1000',
    BENCH_LOOKUP_SAMPLES: '5',
    BENCH_OUT: out,
  });
  const results = await runBenchmarks(settings, { adminUrl: await postgresAdminUrl(), redisUrl: await testRedisUrl() });

  t.equal(results.ingest.inProcess.counts.inserted, 2000, 'the writer inserted every contact in process');
  t.equal(results.ingest.http.counts.inserted, 2000, 'and over HTTP');
  t.equal(results.ingest.rewriteInProcess.unchanged.counts.unchanged, 600, 'an unchanged rewrite was skipped');
  t.equal(results.ingest.rewriteHttp.changed.counts.updated, 600, 'a changed one was written');
  t.same(results.fullSync.map((f) => [f.pageSize, f.runs[0]!.contacts, f.runs[0]!.pages]), [[2000, 2000, 1], [2000, 2000, 1], [1500, 2000, 2]], 'full syncs at both page sizes, with and without read-ahead, delivered every contact');
  t.same(results.fullSync.map((f) => f.readAhead), [true, false, true], 'the default page size is measured with read-ahead and without');
  t.ok(results.copy.bytes > 2000 * 100, 'the COPY reference streamed the tenant');
  // One default page holds the whole 2,000-contact tenant: every depth is its first page here.
  t.same(results.depth.points.map((p) => p.depth), [0, 0.25, 0.5, 0.75, 1]);
  t.equal(results.incremental.server.n, 20);
  t.ok(results.concurrency.runs.completed >= 4, 'every concurrent client completed a run');
  t.equal(results.crmIngest.contacts, 300);
  t.equal(results.crmIngest.rateLimited429, 0);
  t.same([results.webhooks.polling.latencyMs.n, results.webhooks.webhooks.latencyMs.n], [3, 3], 'every edit was timed into the mirror, in both modes');
  t.same([results.webhooksPipedrive?.polling.latencyMs.n, results.webhooksPipedrive?.webhooks.latencyMs.n], [3, 3], 'and for Pipedrive');
  t.ok(results.fullSync[0]!.peakRssBytes > 10 * 2 ** 20, "the server's peak RSS was read");
  t.equal(results.writerHistory.contacts, 1000, 'the writer wrote with its history and without');
  t.ok(results.writerHistory.inserts.withHistory > 0 && results.writerHistory.changed.without > 0);
  t.ok(results.lookup.index.contacts >= 4000, 'the key indexer read both big tenants');
  t.same([results.lookup.phone.n, results.lookup.email.n, results.lookup.name.n], [5, 5, 5], 'each lookup found its contact');
  t.match(results.lookup.phonePlan, /Index (Only )?Scan using contact_keys_lookup/, 'the phone lookup is an index scan');

  const table = await writeReport(results, out);
  const md = await readFile(path.join(out, 'benchmarks.md'), 'utf8');
  t.ok(md.includes(table), 'the printed table is the one in benchmarks.md');
  const rows = table.split('\n');
  t.equal(rows[0], '| figure | measured | target | result |');
  t.equal(rows.length, 2 + 26, 'one row per figure (two of them Pipedrive webhooks)');
  for (const row of rows.slice(2)) {
    t.equal(row.split(' | ').length, 4, `four cells: ${row}`);
    t.notMatch(row, /NaN|undefined|Infinity/, `no missing figure: ${row}`);
  }
  t.match(md, /\*\*Machine:\*\* \d+ × .+, \d+ GiB/);
  t.match(md, new RegExp(`on ${results.date.slice(0, 10)}`), 'dated');
  const svg = await readFile(path.join(out, 'page-latency-by-depth.svg'), 'utf8');
  t.match(svg, /^<svg[^>]*>/, 'the plot is an SVG');
  t.match(svg, /OFFSET/, 'with the OFFSET series in its legend');
  t.same(JSON.parse(await readFile(path.join(out, 'benchmarks.json'), 'utf8')).settings.BENCH_CONTACTS, 2000);
});
