import { Type, type Static } from '@sinclair/typebox';
import { loadEnv } from '../../src/config.js';

const count = (fallback: number, description: string, minimum = 1) => Type.Integer({ minimum, default: fallback, description });

/** What `npm run bench` reads from the environment; a bad value stops it naming the variable. */
export const BenchSettingsSchema = Type.Object({
  BENCH_CONTACTS: count(1_000_000, 'contacts in the big tenant (seeded twice: in process, and over HTTP into a second tenant)', 100),
  BENCH_BATCH: count(10_000, 'contacts per writer batch (the admin PUT takes at most 10,000)'),
  BENCH_REWRITE: count(100_000, 'contacts rewritten unchanged, then changed (at most BENCH_CONTACTS)'),
  BENCH_OTHER_PAGE_SIZES: Type.String({ pattern: '^[1-9][0-9]*(,[1-9][0-9]*)*$', default: '1000,5000', description: 'other page sizes the full sync is also measured with (comma-separated)' }),
  BENCH_ROUNDS: count(3, 'runs of the COPY reference and of each full sync (the median is reported)'),
  BENCH_DEPTH_ROUNDS: count(5, 'interleaved rounds of the page-latency-by-depth measurement'),
  BENCH_KEYSET_SAMPLES: count(50, 'keyset pages timed per depth per round'),
  BENCH_OFFSET_SAMPLES: count(3, 'OFFSET pages timed per depth per round (slow at depth)'),
  BENCH_INCREMENTAL_REQUESTS: count(1_000, 'incremental runs with an up-to-date checkpoint'),
  BENCH_CONCURRENT_TENANTS: count(50, 'tenants syncing at once, one client each'),
  BENCH_CONCURRENT_CONTACTS: count(2_000, 'contacts in each of those tenants'),
  BENCH_CONCURRENT_SECONDS: count(20, 'how long the concurrent syncs run'),
  BENCH_HISTORY_CONTACTS: count(100_000, 'contacts written (inserted, then changed) by the writer with its history and without, in alternation'),
  BENCH_LOOKUP_SAMPLES: count(200, 'lookups timed by each of phone, email and name on the big tenant'),
  BENCH_BACKFILL_CONTACTS: count(100_000, 'contacts backfilled from the simulated HubSpot at its default rate limit'),
  BENCH_WEBHOOK_EDITS: count(40, 'contacts edited in the CRM, one at a time, to time edit → mirror with webhooks and with polling alone'),
  BENCH_WEBHOOK_POLL_SECONDS: count(10, 'SYNC_INTERVAL_SECONDS of the bridge in that measurement (both modes)'),
  BENCH_OUT: Type.String({ minLength: 1, default: 'docs', description: 'where benchmarks.md, benchmarks.json and the plot are written' }),
});
export type BenchSettings = Static<typeof BenchSettingsSchema>;

export const loadBenchSettings = (env: NodeJS.ProcessEnv = process.env): BenchSettings => loadEnv(BenchSettingsSchema, env);
