import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { runLoad } from '../harness/scripts/load/run.js';
import { loadSettings } from '../harness/scripts/load/settings.js';
import { TABLE_HEADER } from '../harness/scripts/load/report.js';
import { buildTestApp } from './helpers/app.js';
import { eventually } from './helpers/ingest.js';
import { postgresAdminUrl, testRedisUrl } from './helpers/services.js';

t.test('npm run load, tiny: every level completes with 0 errors and the report holds a well-formed table', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'load-smoke-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const output = join(dir, 'load.md');
  const settings = loadSettings({
    ...process.env,
    TEST_DATABASE_URL: await postgresAdminUrl(),
    TEST_REDIS_URL: await testRedisUrl(),
    LOAD_TENANTS: '6',
    LOAD_CONTACTS: '30',
    LOAD_SECONDS: '3', // long enough, on a busy machine too, for a client to follow a full run with an incremental one
    LOAD_LEVELS: '2,4',
    LOAD_OVERLOAD_CONCURRENCY: '8',
    LOAD_HUBSPOT_TENANTS: '1',
    LOAD_EDITS_PER_SECOND: '20',
    LOAD_OUTPUT: output,
    // Small pages, so that every full run follows next_offset through several of them.
    SYNC_PAGE_SIZE: '10',
  });

  const report = await runLoad(settings);

  t.same(report.levels.map((l) => l.result.concurrency), [2, 4]);
  for (const { result } of [...report.levels, report.overload!]) {
    t.equal(result.errors.total, 0, `${result.concurrency} runs: no errors (${JSON.stringify(result.errors)})`);
    t.equal(result.timeouts, 0, `${result.concurrency} runs: no timeouts`);
    t.equal(result.shed.withRetryAfter, result.shed.count, 'every 503 carried Retry-After');
    t.ok(result.runs.completed > 0, `${result.concurrency} runs: runs completed`);
    t.ok(result.runs.full > 0, 'full runs among them');
    t.ok(result.pages > result.runs.completed, 'runs of several pages');
    t.equal(result.tenants, 7, 'every tenant is synced: 6 pushed, 1 from HubSpot');
  }
  t.ok(report.levels.some((l) => l.result.runs.incremental > 0), 'incremental runs with a checkpoint from an earlier run');
  t.ok(report.levels.some((l) => l.written > 0), 'ingest wrote while Talkdesk synced');
  t.equal(report.overload?.recovered, true, 'a run completes again after the overload phase');

  const markdown = await readFile(output, 'utf8');
  t.match(markdown, /^# Load: concurrent Talkdesk sync runs/);
  t.match(markdown, /\*\*Machine\*\*: \d+ × .+, [\d.]+ GiB of memory; Node v\d+/);
  const tables = tablesOf(markdown);
  t.equal(tables.length, 2, 'the levels and the overload phase');
  for (const rows of tables) {
    t.same(rows[0], [...TABLE_HEADER], 'header');
    t.ok(rows[1]!.every((cell) => cell === '---'), 'separator');
    for (const row of rows.slice(2)) {
      t.equal(row.length, TABLE_HEADER.length, `a cell per column: ${row.join(' | ')}`);
      t.match(row[0], /^\d+( \(overload\))?$/);
      for (const cell of row.slice(1, 8)) t.match(cell, /^[\d,]+(\.\d)?$/, 'throughput and latencies are numbers');
      t.equal(row[9], '0', 'errors');
    }
  }
  t.equal(tables[0]!.length - 2, 2, 'a row per level');
});

// Regression: past capacity, requests queued for the pool's connections until its 5 s connect
// timeout and were then answered 503 DATABASE_UNAVAILABLE, an outage that was not one, because
// under-pressure watches the event loop, and the event loop was nearly idle (docs/load.md).
t.test('past capacity, requests are refused at once with 503 OVERLOADED instead of queueing for the database', async (t) => {
  const h = await buildTestApp(t);
  const auth = { api_key: 'overload-k' };
  await h.createTenant(auth);
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = h.app.server.address() as { port: number };
  const pool = h.database.pool;

  const connections = pool.options.max ?? 10;
  const takeAll = () => Promise.all(Array.from({ length: connections }, () => pool.connect()));
  // Every connection held for a second teaches the plugin that connections are held long…
  const teaching = await takeAll();
  await sleep(1_000);
  for (const client of teaching) client.release();
  // …then they are all taken again, so requests can only queue.
  const held = await takeAll();
  const REQUESTS = 100;
  let released = false;
  let answered = 0;
  const answers = Array.from({ length: REQUESTS }, async () => {
    const res = await fetch(`http://127.0.0.1:${port}/contact_sync`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ auth, meta: {} }),
    });
    const body = (await res.json()) as { error?: string };
    answered++;
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: body.error, beforeRelease: !released };
  });
  // Settled: every request is either answered or waiting for a connection (one query at a time each).
  await eventually('every request answered or queued for a connection', async () => answered + pool.waitingCount === REQUESTS, 4_000);
  released = true;
  for (const client of held) client.release();
  const results = await Promise.all(answers);

  const refused = results.filter((r) => r.status === 503);
  const served = results.filter((r) => r.status !== 503);
  t.ok(refused.length >= 20, `requests beyond what the pool can serve in time are refused (${refused.length})`);
  t.ok(served.length > 0, `the ones admitted are served (${served.length})`);
  t.ok(refused.every((r) => r.error === 'OVERLOADED' && r.retryAfter === '5'), '503 OVERLOADED with Retry-After, never DATABASE_UNAVAILABLE');
  t.ok(refused.every((r) => r.beforeRelease), 'refused while the connections were still held: at once, not after queueing');
  t.ok(served.every((r) => r.status === 200 && !r.beforeRelease), 'the admitted ones waited for a connection and got their page');

  const after = await fetch(`http://127.0.0.1:${port}/contact_sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth, meta: {} }),
  });
  t.equal(after.status, 200, 'with the pool free again, requests are admitted');
});

/** The markdown tables of a document, each as rows of trimmed cells. */
function tablesOf(markdown: string): string[][][] {
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('|')) {
      current ??= [];
      current.push(line.slice(1, -1).split('|').map((c) => c.trim()));
    } else if (current) {
      tables.push(current);
      current = undefined;
    }
  }
  if (current) tables.push(current);
  return tables;
}
