import t from 'tap';
import { buildIngestStack, eventually, startSim } from './helpers/ingest.js';
import { crmTruth, diff, TalkdeskCopy } from '../harness/talkdesk/copy.js';

const PORTAL = 9501;
// Each CRM response takes this long from now on: far longer than the sync runs below need, so
// "they finished before the CRM answered" means the CRM was never waited on.
const CRM_DELAY_MS = 6_000;

t.test('a slow CRM does not slow the sync endpoint: whole runs complete while one CRM request is still pending', async (t) => {
  const sim = await startSim(t, { portals: [{ portalId: PORTAL, tokens: ['slow-crm'], contacts: 300 }] });
  const h = await buildIngestStack(t, sim, { SYNC_PAGE_SIZE: '50' });
  const auth = { access_token: 'slow-crm' };
  const talkdesk = new TalkdeskCopy(h.sync, auth);
  await eventually('the backfill completes', async () => (await talkdesk.sync()).checkpoint !== undefined);

  sim.control.setDelay({ ms: CRM_DELAY_MS, portalId: PORTAL });
  const portal = () => sim.control.stats().portals[String(PORTAL)]!;
  // The next incremental pass (one a second) sends its request and waits on it.
  const answeredBefore = portal().requests;
  await eventually('an ingest request is waiting on the CRM', async () => portal().inFlight > 0 && portal().requests === answeredBefore);

  // Full runs (Talkdesk's first), incremental runs, and first syncs of other copies: each one
  // resolves the tenant by its credentials, which are known, so onboarding never asks the CRM.
  const runs = [];
  for (let i = 0; i < 3; i++) {
    runs.push(await new TalkdeskCopy(h.sync, auth).sync());
    runs.push(await talkdesk.sync());
  }
  const after = portal();
  t.equal(after.requests, answeredBefore, 'every run completed before the pending CRM response arrived');
  t.equal(after.inFlight, 1, 'and no run added a CRM request of its own');
  t.same(
    runs.map((r) => ({ full: r.full, pages: r.pages, contacts: r.contacts })),
    [0, 1, 2].flatMap(() => [
      { full: true, pages: 6, contacts: 300 },
      { full: false, pages: 1, contacts: 0 },
    ]),
    'complete answers: every page of every full run, and the incremental runs',
  );
  t.ok(runs.every((r) => r.checkpoint !== undefined), 'each with its checkpoint');
  t.same(diff(talkdesk.contacts, crmTruth(sim.control, PORTAL)), { missing: [], stale: [], deletedButPresent: [] });
});
