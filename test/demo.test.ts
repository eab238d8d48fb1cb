import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresAdminUrl, testRedisUrl } from './helpers/services.js';

/** `npm run demo -- <args>` on a database of its own (dropped afterwards); its exit code and output. */
async function runDemo(t: Test, args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const adminUrl = await postgresAdminUrl();
  const dbName = `cb_demo_${randomBytes(4).toString('hex')}`;
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });
  const child = spawn('npm', ['run', '-s', 'demo', '--', ...args], {
    env: { ...process.env, DEMO_DATABASE: dbName, DATABASE_URL: adminUrl, REDIS_URL: await testRedisUrl(), PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output };
}

// The newcomer's first command, end to end: `npm run demo -- --once` with 2,000 contacts on the
// test PostgreSQL and Redis. It exits 0 only when every step checked out against the simulator.
t.test('npm run demo -- --once shows contacts flowing and checks them against the simulator', async (t) => {
  const { code, output } = await runDemo(t, ['--once'], {
    DEMO_CONTACTS: '2000',
    DEMO_HUBSPOT_PORT: '0',
    SYNC_PAGE_SIZE: '1000', // two pages for its 2,000 contacts, so the run shows paging
  });
  t.equal(code, 0, 'exit status 0');
  t.match(output, /✓ 204: the token verifies/);
  t.match(output, /backfill complete in/);
  t.match(output, /2 pages, 2,000 contacts/, 'the full sync pages through every contact');
  t.match(output, /✓ every HubSpot contact delivered \(2,000\)/);
  t.match(output, /✓ the 5 changed contacts arrived/);
  t.match(output, /status page\s+http:\/\/127\.0\.0\.1:\d+\/admin/);
  t.match(output, /demo: every step checked out/);
  t.notMatch(output, /✗/);
});

// The Pipedrive variant, small: an account flowing, and an edit arriving through a webhook.
t.test('npm run demo -- --once --crm pipedrive shows a Pipedrive account flowing and an edit arriving by webhook', async (t) => {
  const { code, output } = await runDemo(t, ['--once', '--crm', 'pipedrive'], { DEMO_CONTACTS: '300', DEMO_PIPEDRIVE_PORT: '0' });
  t.equal(code, 0, 'exit status 0');
  t.match(output, /✓ every Pipedrive contact delivered \(300\)/);
  t.match(output, /✓ subscribed: http:\/\/127\.0\.0\.1:\d+\/webhooks\/pipedrive\//);
  t.match(output, /✓ the 2 changed contacts arrived/);
  t.match(output, /✓ the edit arrived through a webhook, not a poll/);
  t.match(output, /demo: every step checked out/);
  t.notMatch(output, /✗/);
});
