import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import t from 'tap';
import { adminHeaders, buildTestApp } from './helpers/app.js';
import { appRoutes, fillPath, type AppRoute } from './helpers/routes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// The limit each route is meant to have, and why (the routes' modules say more). A route that
// reads a body and is missing here fails the test: its limit must be a decision, not an accident.
const DEFAULT_LIMIT = 16 * KiB; // bodies of a few fields: auth validation, the queue board's API
const LIMITS: Record<string, number> = {
  'POST /contact_sync': 16 * KiB, // credentials and two tokens of at most 4 KiB
  'POST /auth_validation': DEFAULT_LIMIT,
  'POST /admin/tenants': 16 * KiB, // a name and the same credentials
  'PATCH /admin/tenants/:id': 4 * KiB, // a name
  'DELETE /admin/tenants/:id': 1 * KiB, // reads no body
  'POST /admin/tenants/:id/pause': 1 * KiB,
  'POST /admin/tenants/:id/resume': 1 * KiB,
  'POST /admin/tenants/:id/approve': 1 * KiB,
  'POST /admin/tenants/:id/resync': 1 * KiB,
  'PUT /admin/tenants/:id/contacts': 32 * MiB, // up to 10,000 contacts, large by design
  'DELETE /admin/tenants/:id/contacts/:contactId': 1 * KiB,
  'DELETE /admin/tenants/:id/credentials/:credentialId': 1 * KiB,
  'POST /webhooks/hubspot': 256 * KiB, // 100 HubSpot events (only with HUBSPOT_CLIENT_SECRET)
  'POST /webhooks/pipedrive/:id': 256 * KiB, // one Pipedrive event: a person's fields, custom ones included
};
// Bull Board's API (a dependency, whose routes come and go with its version) has the default.
const QUEUE_BOARD = '/admin/queues';

// Fastify reads no body for these methods, whatever is sent (asserted below).
const BODYLESS = new Set(['GET', 'HEAD']);

const PARAMS = {
  id: '00000000-0000-4000-8000-000000000000', // no such tenant: a body that gets through changes nothing
  contactId: 'c1',
  credentialId: '00000000-0000-4000-8000-000000000001',
  queueName: 'ingest',
  jobId: 'no-such-job',
  queueStatus: 'failed',
  schedulerId: 'no-such-scheduler',
};

function limitOf(route: AppRoute, syncPath: string): number | undefined {
  const url = route.url === syncPath ? '/contact_sync' : route.url;
  const declared = LIMITS[`${route.method} ${url}`];
  if (declared !== undefined) return declared;
  if (url === QUEUE_BOARD || url.startsWith(`${QUEUE_BOARD}/`)) return DEFAULT_LIMIT;
  return undefined;
}

/** A JSON document of exactly `size` bytes. */
const jsonOfSize = (size: number) => `{"pad":"${'x'.repeat(size - 10)}"}`;

t.test('every route that reads a body refuses one over its limit with a 413 JSON error', async (t) => {
  const h = await buildTestApp(t, { HUBSPOT_CLIENT_SECRET: 'body-limit-secret' });
  const syncPath = h.config.SYNC_PATH;
  const routes = appRoutes(h.app).filter((r) => !BODYLESS.has(r.method));
  t.ok(routes.length >= 10, `found ${routes.length} routes that read a body`);

  for (const route of routes) {
    const name = `${route.method} ${route.url}`;
    const limit = limitOf(route, syncPath);
    if (limit === undefined) {
      t.fail(`${name} has no deliberate body limit in this test: decide one and add it`);
      continue;
    }
    const url = fillPath(route.url, PARAMS);
    const headers = { ...adminHeaders, 'content-type': 'application/json' };
    const method = route.method as 'POST';

    const over = await h.app.inject({ method, url, headers, payload: jsonOfSize(limit + 1) });
    t.equal(over.statusCode, 413, `${name}: one byte over ${limit}`);
    t.same(over.json(), { error: 'BODY_TOO_LARGE', message: `the request body is over this route's limit of ${limit} bytes` }, name);

    // Without content-length the limit is enforced on the bytes as they arrive.
    const chunked = await h.app.inject({
      method,
      url,
      headers: { ...headers, 'transfer-encoding': 'chunked' },
      payload: Readable.from(chunksOf(jsonOfSize(limit + 1), 4 * KiB)),
    });
    t.equal(chunked.statusCode, 413, `${name}: chunked, without content-length`);
    t.equal(chunked.json().error, 'BODY_TOO_LARGE', name);

    const at = await h.app.inject({ method, url, headers, payload: jsonOfSize(limit) });
    t.not(at.statusCode, 413, `${name}: a body of exactly ${limit} bytes is read`);
    if (!route.url.startsWith(QUEUE_BOARD)) t.ok(at.statusCode < 500, `${name}: ${at.statusCode} ${at.body.slice(0, 200)}`);
  }
});

t.test('GET and HEAD bodies are never read, so they need no limit', async (t) => {
  const h = await buildTestApp(t);
  const res = await h.app.inject({
    method: 'GET',
    url: '/healthz',
    headers: { 'content-type': 'application/json' },
    payload: jsonOfSize(2 * MiB),
  });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'ok' });
});

t.test('a chunked body over the limit, over a real connection, is a 413 JSON answer', async (t) => {
  const h = await buildTestApp(t);
  const seen: Array<{ te: unknown; cl: unknown }> = [];
  h.app.addHook('onRequest', async (request) => {
    seen.push({ te: request.headers['transfer-encoding'], cl: request.headers['content-length'] });
  });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = h.app.server.address() as AddressInfo;
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ port, method: 'POST', path: h.config.SYNC_PATH, headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    // No content-length: Node sends it chunked. The server may answer before the last chunk.
    for (const chunk of chunksOf(jsonOfSize(64 * KiB), 1 * KiB)) req.write(chunk);
    req.end();
  });
  t.same(seen, [{ te: 'chunked', cl: undefined }], 'the request was chunked, with no content-length');
  t.equal(answer.status, 413);
  t.same(JSON.parse(answer.body), { error: 'BODY_TOO_LARGE', message: `the request body is over this route's limit of ${16 * KiB} bytes` });
});

function* chunksOf(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}
