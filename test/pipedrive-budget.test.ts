import t from 'tap';
import { sql } from 'drizzle-orm';
import { buildPipedriveSim } from '../harness/pipedrive-sim/server.js';
import { adminHeaders } from './helpers/app.js';
import { buildIngestStack, eventually } from './helpers/ingest.js';

const TOKEN = 'pd-budget-token';

t.test('a low daily budget shows in bridge_crm_budget_remaining{tenant} and on the status page, which says polling is slowed', async (t) => {
  const sim = await buildPipedriveSim({ companies: [{ companyId: 7002, domain: 'budget', tokens: [TOKEN], persons: 30, dailyBudget: 100 }] });
  await sim.app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => sim.app.close());
  const url = `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`;
  const h = await buildIngestStack(t, { url: 'http://127.0.0.1:9', control: undefined as never }, {
    CRM: 'pipedrive',
    PIPEDRIVE_BASE_URL: url,
    PIPEDRIVE_OVERLAP_SECONDS: '0',
    // Every answer leaves fewer than this: polling is slowed from the first pass.
    PIPEDRIVE_LOW_BUDGET_REQUESTS: '1000',
    PIPEDRIVE_LOW_BUDGET_INTERVAL_SECONDS: '3600',
  });
  t.equal((await h.app.inject({ method: 'POST', url: '/auth_validation', payload: { auth: { api_token: TOKEN } } })).statusCode, 204);
  const { rows } = await h.database.db.execute<{ id: string }>(sql`SELECT id FROM tenants`);
  const tenant = rows[0]!.id;

  let left = NaN;
  await eventually('the budget is recorded and slowed', async () => {
    const r = await h.database.db.execute<{ left: number | null; slowed: boolean }>(
      sql`SELECT crm_budget_left AS left, crm_budget_low_since IS NOT NULL AS slowed FROM ingest_state WHERE tenant_id = ${tenant}`,
    );
    left = r.rows[0]?.left ?? NaN;
    return r.rows[0]?.slowed === true;
  });
  t.ok(left > 0 && left < 100, `the budget left as Pipedrive said it (${left})`);
  const metrics = await h.runtime.metrics.scrape();
  t.match(metrics, new RegExp(`bridge_crm_budget_remaining\\{tenant="${tenant}"\\} \\d+`));

  const page = await h.app.inject({ method: 'GET', url: '/admin', headers: adminHeaders });
  t.match(page.body, /polling slowed: the CRM&#39;s daily budget is low \(\d+ requests left\)|polling slowed: the CRM's daily budget is low \(\d+ requests left\)/);
  const summary = await h.app.inject({ method: 'GET', url: `/admin/tenants/${tenant}`, headers: adminHeaders });
  t.match(summary.json(), { crm_budget_left: Number, crm_budget_low_since: String });
});
