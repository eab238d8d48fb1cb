// CRM-bound ingest alone (also a phase of `npm run bench`): onboard a tenant whose simulated
// HubSpot portal holds BENCH_BACKFILL_CONTACTS contacts, at HubSpot's default rate limit, and
// time its backfill through the real workers.
//   npm run bench:backfill
import { crmBoundIngest } from './phases/crm-ingest.js';
import { benchServices } from './services.js';

const { adminUrl, redisUrl } = benchServices();
const figures = await crmBoundIngest({ adminUrl, redisUrl, contacts: Number(process.env.BENCH_BACKFILL_CONTACTS ?? 100_000) });
console.log(JSON.stringify(figures, null, 2));
