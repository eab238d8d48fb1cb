import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from './helpers/database.js';
import { eventually } from './helpers/ingest.js';
import { testRedisUrl } from './helpers/services.js';
import { FROM_SOURCE } from '../harness/from-source.js';

// The process as `npm start` runs it: configuration, migrations, both halves, graceful close.
const server = fileURLToPath(new URL('../src/server.ts', import.meta.url));
// Load shedding on event-loop delay is a timing: on a machine busy with other test files it sheds
// these tests' requests (it has tests of its own). A test may still set it.
const run = (env: Record<string, string | undefined>) =>
  spawn(process.execPath, [...FROM_SOURCE, server], {
    env: { ...process.env, OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

t.test('a bad configuration stops start-up with one line naming the variable', async (t) => {
  const child = run({ DATABASE_URL: 'postgres://x@127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379', BRIDGE_SECRET: 'short', LOG_LEVEL: 'silent' });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const [code] = await once(child, 'exit');
  t.equal(code, 1);
  t.match(stderr.trim(), /^invalid configuration: BRIDGE_SECRET [^\n]*$/);
});

t.test('the server migrates, serves, and shuts down gracefully on SIGTERM', async (t) => {
  const database = await freshDatabase(t);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = run({
    DATABASE_URL: database.url,
    REDIS_URL: await testRedisUrl(),
    BRIDGE_SECRET: 'process-test-secret-process-test-secret',
    ADMIN_TOKEN: 'process-test-admin-token',
    PORT: String(port),
    HOST: '127.0.0.1',
    QUEUE_PREFIX: `cbproc${port}`,
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let answer: { status: number; body: unknown } | undefined;
  await eventually('the server answers', async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/contact_sync`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { access_token: '' }, meta: {} }),
      });
      answer = { status: res.status, body: await res.json() };
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  t.match(answer, { status: 401, body: { error: 'UNKNOWN_CREDENTIALS' } }, 'migrated and serving');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0, 'exits 0 after closing');
});

t.test('SIGTERM in the middle of a Talkdesk sync run loses nothing', async (t) => {
  const database = await freshDatabase(t);
  const env = (port: number) => ({
    DATABASE_URL: database.url,
    BRIDGE_SECRET: 'process-test-secret-process-test-secret',
    ADMIN_TOKEN: 'process-test-admin-token',
    PORT: String(port),
    HOST: '127.0.0.1',
    ROLE: 'api',
    SYNC_PAGE_SIZE: '7',
    LOG_LEVEL: 'warn',
  });
  const start = async (port: number) => {
    const child = run({ ...env(port), REDIS_URL: await testRedisUrl() });
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await eventually('the server answers', async () => fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false), 30_000);
    return child;
  };
  const call = (port: number, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: path.includes('contacts') ? 'PUT' : 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  const port1 = 20000 + Math.floor(Math.random() * 20000);
  const first = await start(port1);
  const admin = { authorization: 'Bearer process-test-admin-token' };
  const { id } = (await (await call(port1, '/admin/tenants', { name: 'x', auth: { k: 'sigterm' } }, admin)).json()) as { id: string };
  await call(port1, `/admin/tenants/${id}/contacts`, Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, name: `C ${i}` })), admin);

  const seen: string[] = [];
  // One page as Talkdesk asks for it; a page the bridge could not answer is asked for again.
  const page = async (port: number, offset?: string): Promise<{ ok: boolean; next?: string }> => {
    const res = await call(port, '/contact_sync', { auth: { k: 'sigterm' }, meta: offset ? { offset } : {} }).catch(() => undefined);
    if (!res || res.status !== 200) return { ok: false };
    const body = (await res.json()) as { contacts: Array<{ id: string }>; next_offset?: string };
    seen.push(...body.contacts.map((c) => c.id));
    return { ok: true, next: body.next_offset };
  };
  let offset = (await page(port1)).next;
  offset = (await page(port1, offset)).next;
  // SIGTERM while the next page is being asked for: it is answered, or refused and asked again.
  const inFlight = page(port1, offset);
  first.kill('SIGTERM');
  const answered = await inFlight;
  if (answered.ok) offset = answered.next;
  const [code] = await once(first, 'exit');
  t.equal(code, 0, 'the server exits 0 within its deadline');

  const port2 = port1 + 1;
  await start(port2);
  while (offset) {
    const next = await page(port2, offset);
    t.ok(next.ok);
    offset = next.next;
  }
  t.equal(seen.length, 50, 'every contact once');
  t.same(new Set(seen).size, 50);
});

t.test('a worker-only process serves its metrics and probes, and nothing else', async (t) => {
  const database = await freshDatabase(t);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const metricsPort = port + 1;
  const child = run({
    DATABASE_URL: database.url,
    REDIS_URL: await testRedisUrl(),
    BRIDGE_SECRET: 'process-test-secret-process-test-secret',
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort),
    ROLE: 'worker',
    QUEUE_PREFIX: `cbworker${port}`,
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await eventually('the worker answers', async () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false), 30_000);
  // Without METRICS_TOKEN the metrics are on the internal port (127.0.0.1 by default), not on PORT.
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 404, 'not on PORT without METRICS_TOKEN');
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(metrics, /bridge_ingest_contacts_total/);
  t.match(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json(), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  t.equal((await fetch(`http://127.0.0.1:${port}/contact_sync`, { method: 'POST' })).status, 404, 'no API');
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  t.equal(code, 0);
});
