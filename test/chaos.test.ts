import t from 'tap';
import { FAULT_KINDS, figuresTable, problems } from '../harness/chaos/figures.js';
import { chaosSeed } from '../harness/chaos/random.js';
import { runChaos } from '../harness/chaos/run-chaos.js';
import { postgresAdminUrl, testRedisUrl } from './helpers/services.js';

// The short chaos run CI does (npm run chaos is the long one): a handful of rounds of CRM writes,
// Talkdesk runs and faults while two real worker processes ingest. CHAOS_SEED replays a failure.
const seed = chaosSeed(process.env.CHAOS_SEED);
const rounds = Number(process.env.CHAOS_ROUNDS ?? 6);

t.test("after rounds of CRM writes, Talkdesk runs and faults, Talkdesk's copy equals the CRM field for field", async (t) => {
  t.comment(`CHAOS_SEED=${seed} CHAOS_ROUNDS=${rounds}`);
  const figures = await runChaos({
    rounds,
    seed,
    adminDatabaseUrl: await postgresAdminUrl(),
    redisUrl: await testRedisUrl(),
    contactsPerPortal: 200,
    // A Pipedrive company beside the two portals (CHAOS_PIPEDRIVE=0: HubSpot alone).
    pipedrive: process.env.CHAOS_PIPEDRIVE !== '0',
    // Once writes stop, a healthy run catches up in seconds; a minute means something is lost.
    catchUpTimeoutMs: 60_000,
    log: (line) => t.comment(line),
  });
  t.comment(`\n${figuresTable(figures)}`);

  t.same(problems(figures), [], `no mismatch, no crash, no unexpected sync failure (replay with CHAOS_SEED=${seed})`);
  t.same(
    { missing: figures.mismatches.missing, stale: figures.mismatches.stale, deletedButPresent: figures.mismatches.deletedButPresent },
    { missing: 0, stale: 0, deletedButPresent: 0 },
  );
  t.ok(figures.compared > 0, `${figures.compared} contacts compared`);
  t.not(figures.catchUpSeconds, null, 'ingest caught up once writes stopped');

  for (const kind of FAULT_KINDS) t.ok(figures.faults[kind] >= 1, `${kind} injected (${figures.faults[kind]})`);
  t.ok(figures.crmFaultAnswers.rateLimited > 0, 'HubSpot did answer 429s');
  t.ok(figures.crmFaultAnswers.serverErrors > 0, 'HubSpot did answer 5xx');

  const { crm, sync } = figures;
  for (const [what, n] of Object.entries(crm)) t.ok(n > 0, `CRM ${what}: ${n}`);
  t.ok(sync.full >= 1 && sync.incremental >= 1, `full (${sync.full}) and incremental (${sync.incremental}) runs`);
  t.ok(sync.overHttp >= 1 && sync.inProcess >= 1, `runs over HTTP (${sync.overHttp}) and in-process (${sync.inProcess})`);
  t.ok(sync.smallPages >= 1, `runs with small pages (${sync.smallPages})`);
});
