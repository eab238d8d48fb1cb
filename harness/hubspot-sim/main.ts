/**
 * The simulator as a standalone server, for the demo and for syncs running out of process:
 *
 *   npm run hubspot-sim -- --port 4010 --contacts 20000 --token demo-token
 *
 * Point @hubspot/api-client's basePath at http://HOST:PORT; drive it through /__sim (control-routes.ts).
 */
import { parseArgs } from 'node:util';
import type { OAuthAppOptions } from './oauth.js';
import type { PortalOptions } from './portals.js';
import { buildHubSpotSim } from './server.js';

const USAGE = `hubspot-sim: a HubSpot CRM v3 simulator

  --port N               port to listen on (4010)
  --host ADDR            address to bind (127.0.0.1)
  --portal-id N          id of the main portal (62515)
  --token T              a token of the main portal; repeatable, or comma-separated (demo-token)
  --scoped-token T:SCOPES  a token of the main portal granted only SCOPES (comma-separated HubSpot
                         scope names, e.g. low-token:tickets); contacts endpoints answer it 403; repeatable
  --contacts N           contacts to seed in the main portal (20000)
  --portal ID:TOKENS[:N] another portal, TOKENS comma-separated, N contacts; repeatable
  --seed N               data seed; the same seed gives the same contacts (1)
  --search-lag-ms N      delay before a write is visible to search (2000)
  --ten-secondly N       requests per rolling 10 s per portal, search excluded (100)
  --search-per-second N  search requests per second per portal (5)
  --app ID:CLIENT_ID:SECRET  an OAuth app that can be installed (GET /oauth/authorize) and send
                         webhooks (control API: /__sim/oauth/*, /__sim/webhooks/*); repeatable
  --access-token-ttl N   lifetime of OAuth access tokens in seconds (1800)
  --log                  log every request
  --help`;

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer; got ${v}`);
  return n;
}

function parsePortal(spec: string): PortalOptions {
  const [id, tokens, contacts] = spec.split(':');
  if (!id || !tokens) throw new Error(`--portal must be ID:TOKENS[:CONTACTS]; got ${spec}`);
  return { portalId: int('portal', id, 0), tokens: tokens.split(',').filter(Boolean), contacts: int('portal', contacts, 0) };
}

function parseApp(spec: string): OAuthAppOptions {
  const [id, clientId, clientSecret] = spec.split(':');
  if (!id || !clientId || !clientSecret) throw new Error(`--app must be ID:CLIENT_ID:SECRET; got ${spec}`);
  return { appId: int('app', id, 0), clientId, clientSecret };
}

function parseScopedToken(spec: string): { token: string; scopes: string[] } {
  const [token, scopes] = spec.split(':');
  if (!token || scopes === undefined) throw new Error(`--scoped-token must be TOKEN:SCOPE[,SCOPE…]; got ${spec}`);
  return { token, scopes: scopes.split(',').filter(Boolean) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'portal-id': { type: 'string' },
      token: { type: 'string', multiple: true },
      'scoped-token': { type: 'string', multiple: true },
      contacts: { type: 'string' },
      portal: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'search-lag-ms': { type: 'string' },
      'ten-secondly': { type: 'string' },
      'search-per-second': { type: 'string' },
      app: { type: 'string', multiple: true },
      'access-token-ttl': { type: 'string' },
      log: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const mainPortal: PortalOptions = {
    portalId: int('portal-id', values['portal-id'], 62515),
    tokens: (values.token ?? ['demo-token']).flatMap((t) => t.split(',')).filter(Boolean),
    contacts: int('contacts', values.contacts, 20_000),
    scopedTokens: (values['scoped-token'] ?? []).map(parseScopedToken),
  };
  const portals = [mainPortal, ...(values.portal ?? []).map(parsePortal)];
  const started = Date.now();
  const { app } = await buildHubSpotSim({
    portals,
    seed: int('seed', values.seed, 1),
    searchLagMs: int('search-lag-ms', values['search-lag-ms'], 2000),
    rateLimits: {
      tenSecondly: int('ten-secondly', values['ten-secondly'], 100),
      searchPerSecond: int('search-per-second', values['search-per-second'], 5),
    },
    logger: values.log ? { level: 'info' } : false,
    apps: (values.app ?? []).map(parseApp),
    accessTokenTtlSeconds: int('access-token-ttl', values['access-token-ttl'], 1800) || 1800,
  });
  const address = await app.listen({ port: int('port', values.port, 4010), host: values.host ?? '127.0.0.1' });
  console.log(`hubspot-sim listening on ${address} (ready in ${Date.now() - started} ms)`);
  for (const p of portals) {
    const scoped = (p.scopedTokens ?? []).map((s) => `${s.token} (only ${s.scopes.join(', ') || 'no scope'})`);
    console.log(`  portal ${p.portalId}: ${p.contacts ?? 0} contacts, tokens ${[...p.tokens, ...scoped].join(', ')}`);
  }

  const stop = () => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error(USAGE);
  process.exit(2);
});
