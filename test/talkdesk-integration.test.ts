import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, buildTestRuntime } from './helpers/app.js';
import { loadConfig } from '../src/config.js';

t.test('the integration document Talkdesk registers is built from PUBLIC_URL', async (t) => {
  const h = await buildTestApp(t, { PUBLIC_URL: 'https://bridge.example.com/', SYNC_PATH: '/talkdesk/contacts' });
  const res = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    name: String,
    display_name: String,
    authentication_type: 'custom',
    authentication_fields: [{ name: 'access_token', mandatory: true, help_text: /Private Apps.*crm\.objects\.contacts\.read/ }],
    endpoints: {
      contact_synchronization: 'https://bridge.example.com/talkdesk/contacts',
      auth_validation: 'https://bridge.example.com/auth_validation',
    },
    logo_url: 'https://bridge.example.com/talkdesk/logo.svg',
  });
  const logo = await h.app.inject({ method: 'GET', url: '/talkdesk/logo.svg' });
  t.equal(logo.headers['content-type'], 'image/svg+xml');

  const local = await buildTestApp(t);
  const fallback = await local.app.inject({ method: 'GET', url: '/talkdesk/integration.json', headers: { host: 'localhost:3000' } });
  t.equal(fallback.json().endpoints.contact_synchronization, 'http://localhost:3000/contact_sync', 'without PUBLIC_URL: the request host');
});

t.test('each enabled CRM has its own document, whose form asks for exactly its auth fields', async (t) => {
  const h = await buildTestApp(t, { PUBLIC_URL: 'https://bridge.example.com', CRM: 'all' });
  const res = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=pipedrive' });
  t.equal(res.statusCode, 200);
  t.match(res.json(), {
    name: 'contact_bridge_pipedrive',
    display_name: 'Pipedrive contacts',
    authentication_fields: [{ name: 'api_token', mandatory: true, help_text: /Personal preferences → API.*admin's token/ }],
    endpoints: { auth_validation: 'https://bridge.example.com/auth_validation' },
  });
  t.equal(res.json().authentication_fields.length, 1);
  const hubspot = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=hubspot' });
  t.match(hubspot.json(), { name: 'contact_bridge_hubspot', authentication_fields: [{ name: 'access_token' }] });
  const unknown = await h.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=salesforce' });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { error: String, message: /no salesforce integration \(it has: hubspot, pipedrive\)/ });

  const only = await buildTestApp(t, { CRM: 'pipedrive' });
  t.equal((await only.app.inject({ method: 'GET', url: '/talkdesk/integration.json' })).json().name, 'contact_bridge_pipedrive', 'the first enabled CRM by default');
  t.equal((await only.app.inject({ method: 'GET', url: '/talkdesk/integration.json?crm=hubspot' })).statusCode, 404, 'a CRM this bridge does not enable');
});

t.test('TLS_CERT_FILE and TLS_KEY_FILE make the server speak HTTPS itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cb-tls-'));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], {
    stdio: 'ignore',
  });
  t.throws(() => loadConfig({ DATABASE_URL: 'postgres://x@h/d', REDIS_URL: 'redis://h', BRIDGE_SECRET: 'x'.repeat(32), TLS_CERT_FILE: cert }), {
    message: /TLS_CERT_FILE and TLS_KEY_FILE go together/,
  });
  const h = await buildTestApp(t);
  const app = (await buildTestRuntime(t, h.database, { ROLE: 'api', CRM: 'none', TLS_CERT_FILE: cert, TLS_KEY_FILE: key })).app!;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as { port: number }).port;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(cert), servername: 'localhost' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(status, 200, 'answered over TLS with the given certificate');
});
