import t from 'tap';
import { createLogger, REDACTED } from '../src/logging.js';
import { ADMIN_TOKEN, buildTestApp } from './helpers/app.js';

/** A logger whose output the test reads: one parsed JSON object per line written. */
function capturedLogger(level = 'info') {
  const raw: string[] = [];
  const logger = createLogger(level, { write: (line: string) => void raw.push(line) });
  const lines = () => raw.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, any>);
  return { logger, raw, lines };
}

t.test('one line per request with tenant, kind, page, contacts and duration; no secret ever logged', async (t) => {
  const secret = 'secret-token-123';
  const wrongAdmin = 'admin-wrong-token-do-not-log';
  const { logger, raw, lines } = capturedLogger();
  const h = await buildTestApp(t, { SYNC_PAGE_SIZE: '2' }, { logger });
  const auth = { access_token: secret };

  const tenant = await h.createTenant(auth);
  await h.push(tenant, [
    { id: '1', name: 'One' },
    { id: '2', name: 'Two' },
    { id: '3', name: 'Three' },
  ]);
  const first = await h.sync({ auth, meta: {} });
  const second = await h.sync({ auth, meta: { offset: first.body.next_offset, context: null } });
  t.equal(second.body.next_offset, undefined, 'two pages');
  t.match(second.headers['server-timing'], /^app;dur=\d+\.\d\d$/, "the server's own time is in Server-Timing");
  await h.sync({ auth, meta: { synchronization_checkpoint: second.body.synchronization_checkpoint } });
  const refused = await h.app.inject({ method: 'GET', url: '/admin/tenants', headers: { authorization: `Bearer ${wrongAdmin}` } });
  t.equal(refused.statusCode, 401);
  t.equal((await h.sync({ auth: { access_token: 'unknown-secret-456' }, meta: {} })).statusCode, 401);
  // Code that logs a request's parts by mistake still writes no secret.
  h.app.log.info({ request: { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }, body: { auth } }, 'careless');
  logger.child({ role: 'worker' }).warn({ err: { config: { headers: { Authorization: `Bearer ${secret}` } } }, credentials: auth }, 'careless worker');

  const text = raw.join('');
  for (const s of [secret, ADMIN_TOKEN, wrongAdmin, 'unknown-secret-456']) t.notOk(text.includes(s), `never logged: ${s}`);
  t.match(lines().find((l) => l.msg === 'careless'), { request: { headers: { authorization: REDACTED } }, body: { auth: REDACTED } });
  t.match(lines().find((l) => l.msg === 'careless worker'), { err: { config: { headers: { Authorization: REDACTED } } }, credentials: REDACTED });

  const requests = lines().filter((l) => l.msg === 'request completed');
  t.equal(requests.length, 7, 'one line per request: create, push, 3 syncs, refused admin call, refused sync');
  t.equal(new Set(requests.map((l) => l.reqId)).size, requests.length, 'each with its request id');
  t.notOk(lines().some((l) => l.msg === 'incoming request'), "Fastify's own request lines are off");

  const syncs = requests.filter((l) => l.url === '/contact_sync');
  t.match(syncs[0], { tenant, kind: 'initial', page: 1, contacts: 2, statusCode: 200, responseTime: Number, method: 'POST' });
  t.match(syncs[1], { tenant, kind: 'initial', page: 2, contacts: 1, statusCode: 200 });
  t.match(syncs[2], { tenant, kind: 'incremental', page: 1, contacts: 0, statusCode: 200 });
  t.match(syncs[3], { statusCode: 401 });
  t.equal(syncs[3]!.tenant, undefined, 'no tenant for credentials that match none');
  t.match(
    requests.find((l) => l.url === '/admin/tenants' && l.method === 'GET'),
    { statusCode: 401 },
    'admin calls are logged too',
  );
});

t.test('probes and scrapes are logged at debug only', async (t) => {
  const { logger, lines } = capturedLogger('info');
  const h = await buildTestApp(t, {}, { logger });
  for (const url of ['/healthz', '/readyz', '/metrics']) await h.app.inject({ method: 'GET', url });
  t.same(lines().filter((l) => l.msg === 'request completed'), []);
});
