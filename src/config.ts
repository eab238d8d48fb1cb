import { isIP } from 'node:net';
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { isSupportedCountry } from 'libphonenumber-js/max';

// Every variable the service reads, with its default and a one-line description.
// The README's configuration table is this list; keep them together.
export const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL connection string (primary)' }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10, description: 'connections per pool' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis for the BullMQ queues (never on the request path)' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'HTTP port' }),
  HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'interface to listen on' }),
  BRIDGE_SECRET: Type.String({
    minLength: 32,
    description: 'at least 32 characters; keys the auth digest, the credential encryption and the cursor-token signatures',
  }),
  BRIDGE_SECRET_PREVIOUS: Type.Optional(
    Type.String({
      minLength: 32,
      description:
        'during a rotation, the BRIDGE_SECRET being replaced: tenants, credentials and tokens made under it are still accepted, and rewritten under BRIDGE_SECRET',
    }),
  ),
  ADMIN_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'bearer token of the admin API; unset = the admin API refuses every call' }),
  ),
  PUBLIC_URL: Type.Optional(
    Type.String({ pattern: '^https?://', description: "the bridge's public base URL (HTTPS for Talkdesk), used in /talkdesk/integration.json and as the HubSpot app's redirect URI base" }),
  ),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM certificate: the server speaks HTTPS itself (with TLS_KEY_FILE)' })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of TLS_CERT_FILE' })),
  SYNC_PATH: Type.String({ pattern: '^/', default: '/contact_sync', description: 'path of the Talkdesk contact-sync endpoint' }),
  // 2,000 (about 800 KB): a full sync of a large tenant then takes under twice PostgreSQL's own time to
  // stream it, where 1,000 took more (docs/benchmarks.md); larger pages gain little and cost memory.
  SYNC_PAGE_SIZE: Type.Integer({ minimum: 1, maximum: 10000, default: 2000, description: 'contacts per sync page' }),
  SYNC_READ_AHEAD: Type.Boolean({
    default: true,
    description: "read each sync run's next page while the current one is sent (false: every page is read on request)",
  }),
  DELETION_RESYNC_SECONDS: Type.Integer({
    minimum: 0,
    default: 3600,
    description: 'at most one deletion-driven full resync per tenant in this many seconds (0 = whenever deletions are pending)',
  }),
  ONBOARDING: Type.Union([Type.Literal('open'), Type.Literal('approval'), Type.Literal('closed')], {
    default: 'open',
    description:
      "credentials of an unknown CRM account: 'open' onboards the account at once, 'approval' makes it a tenant awaiting an operator's approval (401 until then), 'closed' refuses it (only operators register tenants)",
  }),
  CRM: Type.String({
    pattern: '^(all|none|[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*)$',
    default: 'all',
    description: "the CRM connectors this process enables, comma-separated (e.g. 'hubspot'), 'all' or 'none'; a tenant's CRM is its own",
  }),
  HUBSPOT_BASE_URL: Type.String({ pattern: '^https?://', default: 'https://api.hubapi.com', description: 'HubSpot API base URL' }),
  HUBSPOT_CLIENT_ID: Type.Optional(
    Type.String({ minLength: 1, description: "the HubSpot app's client id: customers connect through OAuth at /connect/hubspot (unset = those routes answer 404)" }),
  ),
  HUBSPOT_CLIENT_SECRET: Type.Optional(
    Type.String({ minLength: 1, description: "the HubSpot app's client secret: signs webhooks and OAuth calls" }),
  ),
  HUBSPOT_SCOPES: Type.String({
    pattern: '^[a-z0-9._-]+( [a-z0-9._-]+)*$',
    default: 'crm.objects.contacts.read',
    description: 'the scopes the OAuth connection asks for, space-separated (they must match the app\'s in the developer portal)',
  }),
  HUBSPOT_AUTHORIZE_URL: Type.String({
    pattern: '^https?://',
    default: 'https://app.hubspot.com/oauth/authorize',
    description: "HubSpot's OAuth authorize page (its token calls go to HUBSPOT_BASE_URL)",
  }),
  HUBSPOT_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 15000, description: 'a HubSpot request idle longer than this fails (and is retried)' }),
  HUBSPOT_TEN_SECOND_LIMIT: Type.Integer({
    minimum: 1,
    default: 100,
    description: "the account's ten-second request limit (100 for most private apps, 190 on Professional/Enterprise); the client uses 90 % of it",
  }),
  HUBSPOT_SEARCH_PER_SECOND_LIMIT: Type.Integer({ minimum: 1, default: 5, description: 'the search API limit per second; the client uses 90 % of it' }),
  HUBSPOT_VERIFY_TEN_SECOND_LIMIT: Type.Integer({ minimum: 1, default: 20, description: 'verifications of tokens whose portal is not known yet, all together, per rolling 10 s' }),
  HUBSPOT_VERIFY_MAX_WAIT_MS: Type.Integer({ minimum: 0, default: 5000, description: 'the longest a verification waits for rate budget; then 503 with Retry-After' }),
  HUBSPOT_SEARCH_OVERLAP_SECONDS: Type.Integer({
    minimum: 0,
    default: 60,
    description: "re-read this window behind the watermark, since HubSpot's search index lags writes",
  }),
  PIPEDRIVE_BASE_URL: Type.String({
    pattern: '^https?://',
    default: 'https://api.pipedrive.com',
    description: 'Pipedrive API base URL: v1 is under /v1, v2 under /api/v2, as on the real API',
  }),
  PIPEDRIVE_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 15000, description: 'a Pipedrive request idle longer than this fails (and is retried)' }),
  PIPEDRIVE_OVERLAP_SECONDS: Type.Integer({
    minimum: 0,
    default: 60,
    description: 'an incremental pass re-reads this window behind a recent watermark, for writes that land late',
  }),
  PIPEDRIVE_LOW_BUDGET_REQUESTS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: "below this many requests left in the company's daily budget, a tenant's polling slows down (0: never)",
  }),
  PIPEDRIVE_LOW_BUDGET_INTERVAL_SECONDS: Type.Integer({
    minimum: 1,
    default: 900,
    description: 'while the daily budget is low: at most one incremental pass of the tenant in this many seconds',
  }),
  SYNC_INTERVAL_SECONDS: Type.Integer({ minimum: 1, default: 60, description: 'seconds between incremental ingest passes of a tenant' }),
  WEBHOOK_POLL_INTERVAL_SECONDS: Type.Integer({
    minimum: 1,
    default: 900,
    description: "a tenant whose CRM webhooks arrived within this many seconds is polled this often instead of every SYNC_INTERVAL_SECONDS (polling stays the safety net for events lost)",
  }),
  DELETE_RECONCILE_SECONDS: Type.Integer({ minimum: 1, default: 3600, description: 'seconds between deletion scans: archived CRM contacts, then the sweep of live ids' }),
  CONTACT_HISTORY_DAYS: Type.Integer({
    minimum: 1,
    default: 30,
    description: "days a contact's history is kept (the workers prune older versions hourly; at most the last 20 versions of a contact are kept)",
  }),
  MAX_CONTACTS_PER_TENANT: Type.Integer({
    minimum: 0,
    default: 0,
    description: "a tenant whose mirror grows past this many live contacts is paused with a note (at most one ingest page over); 0 = no quota",
  }),
  MAX_CONCURRENT_BACKFILLS: Type.Integer({
    minimum: 1,
    default: 4,
    description: 'backfills running at once across every worker process; the others wait their turn (incremental passes are never held)',
  }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 100, default: 4, description: 'tenants ingested in parallel per worker process' }),
  INGEST_LOCK_SECONDS: Type.Integer({
    minimum: 1,
    default: 30,
    description: "BullMQ job lock: a job whose worker died (kill -9) is picked up again after about this long",
  }),
  DEFAULT_PHONE_REGION: Type.String({
    pattern: '^[A-Z]{2}$',
    default: 'US',
    description: 'ISO country whose numbering plan reads phone numbers without a country code',
  }),
  QUEUE_PREFIX: Type.String({ minLength: 1, default: 'bull', description: "BullMQ key prefix (a hash tag such as '{cb}' for Redis Cluster)" }),
  ROLE: Type.Union([Type.Literal('all'), Type.Literal('api'), Type.Literal('worker')], {
    default: 'all',
    description: 'all = API and workers in one process; api or worker alone',
  }),
  SHUTDOWN_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    default: 25,
    description: 'on SIGTERM, how long in-flight requests and the current ingest page may take before the process exits anyway',
  }),
  MIGRATE_ON_START: Type.Boolean({ default: true, description: 'apply pending migrations before listening' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  // /metrics names every tenant's id and size: never open on the public port.
  METRICS_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description: 'bearer token GET /metrics requires on PORT (16+ characters); unset = PORT answers /metrics 404 and METRICS_PORT serves it',
    }),
  ),
  METRICS_HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'interface of the internal metrics server (METRICS_TOKEN unset)' }),
  METRICS_PORT: Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Literal('off')], {
    default: 9464,
    description:
      "port of the internal metrics server, which serves GET /metrics without a token when METRICS_TOKEN is unset (0 = an ephemeral port, 'off' = none); one it cannot listen on is a warning, not a failed start",
  }),
  METRICS_TENANT_REFRESH_SECONDS: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'seconds between computations of the per-tenant metrics (one statement, bounded); a scrape only reads the last ones',
  }),
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({
    minimum: 0,
    default: 1000,
    description: 'answer 503 OVERLOADED while the mean event-loop delay exceeds this (ms); 0 = off',
  }),
  OVERLOAD_MAX_HEAP_USED_BYTES: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'answer 503 OVERLOADED while the V8 heap in use exceeds this (bytes); 0 = off',
  }),
  OVERLOAD_MAX_RSS_BYTES: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'answer 503 OVERLOADED while the resident set size exceeds this (bytes); 0 = off',
  }),
  // The HTTP edge: how long a client may take to send a request, how long a connection may sit
  // silent, how many one client may hold, and whose X-Forwarded-For to believe (issue 13).
  REQUEST_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'a request whose headers and body have not all arrived after this many seconds is answered 408 and its connection closed',
  }),
  CONNECTION_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    default: 60,
    description: 'a connection on which nothing is sent or received for this many seconds while a request is open is closed (a client that stops reading)',
  }),
  KEEP_ALIVE_TIMEOUT_SECONDS: Type.Integer({
    minimum: 1,
    default: 72,
    description: 'an idle keep-alive connection is closed after this many seconds (keep it above a load balancer\'s idle timeout, 60 s on most)',
  }),
  MAX_CONNECTIONS_PER_CLIENT: Type.Integer({
    minimum: 0,
    default: 1024,
    description: 'open connections one client address may hold (IPv6 by /64; TRUST_PROXY peers exempt); more are closed at once; 0 = no cap',
  }),
  TRUST_PROXY: Type.Optional(
    Type.String({
      minLength: 1,
      description: "addresses or CIDRs of the proxies in front, comma-separated, whose X-Forwarded-For names the client; unset = the socket's peer is the client",
    }),
  ),
});

/**
 * TRUST_PROXY as a list of addresses and CIDRs. Only a named proxy may say who the client is:
 * trusting every peer's X-Forwarded-For (`true`, `*`, a /0, a hop count) would let any client
 * pick the address its rate limits and connection cap are counted against.
 */
export function trustedProxies(value: string | undefined): string[] {
  if (value === undefined) return [];
  const entries = value.split(',').map((s) => s.trim());
  for (const entry of entries) {
    const [address = '', prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    const valid = family !== 0 && rest.length === 0 && (bits === undefined || (bits >= 1 && bits <= (family === 4 ? 32 : 128)));
    if (!valid) {
      const everyone = /^(true|\*|all|yes|1|\d+|0\.0\.0\.0\/0|::\/0)$/i.test(entry);
      throw new ConfigError(
        `invalid configuration: TRUST_PROXY must list the proxies' addresses or CIDRs, comma-separated (got ${JSON.stringify(entry)})` +
          (everyone ? ": trusting every peer's X-Forwarded-For would let any client choose its own address" : ''),
      );
    }
  }
  return entries;
}

export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The CRM setting as a list of connector names, or 'all'. */
export function enabledCrms(config: Pick<Config, 'CRM'>): string[] | 'all' {
  if (config.CRM === 'all') return 'all';
  if (config.CRM === 'none') return [];
  return config.CRM.split(',');
}

/** Reads the environment once; throws a ConfigError whose message names the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config = loadEnv(ConfigSchema, env);
  if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE go together (set both, or neither)');
  }
  if (config.BRIDGE_SECRET_PREVIOUS !== undefined && config.BRIDGE_SECRET_PREVIOUS === config.BRIDGE_SECRET) {
    // Almost certainly a rotation step done out of order: the new secret never reached BRIDGE_SECRET.
    throw new ConfigError('invalid configuration: BRIDGE_SECRET_PREVIOUS equals BRIDGE_SECRET (set BRIDGE_SECRET to the new secret)');
  }
  trustedProxies(config.TRUST_PROXY);
  if (config.HUBSPOT_CLIENT_ID !== undefined) {
    // An app without its secret cannot exchange a code; without PUBLIC_URL there is no redirect URI.
    for (const name of ['HUBSPOT_CLIENT_SECRET', 'PUBLIC_URL'] as const) {
      if (config[name] === undefined) throw new ConfigError(`invalid configuration: ${name} is not set, and HUBSPOT_CLIENT_ID (OAuth connections) needs it`);
    }
  }
  if (!isSupportedCountry(config.DEFAULT_PHONE_REGION)) {
    throw new ConfigError(
      `invalid configuration: DEFAULT_PHONE_REGION is not a region libphonenumber knows (got ${JSON.stringify(config.DEFAULT_PHONE_REGION)})`,
    );
  }
  return config;
}

/** Parses the variables a schema declares (a part of ConfigSchema for tools that need only some). */
export function loadEnv<S extends TObject>(schema: S, env: NodeJS.ProcessEnv = process.env): Static<S> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    // An empty variable is treated as unset, so `FOO=` in an .env file falls back to the default.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Convert(schema, Value.Default(schema, raw));
  const firstError = Value.Errors(schema, converted).First();
  if (firstError) {
    const name = firstError.path.replace(/^\//, '').split('/')[0] ?? '';
    const described = (schema.properties as Record<string, TSchema>)[name]?.description;
    const shown = name in raw ? `got ${JSON.stringify(secretSafe(name, raw[name]))}` : 'it is not set';
    throw new ConfigError(
      `invalid configuration: ${name} ${firstError.message.toLowerCase()} (${shown})${described ? `: ${described}` : ''}`,
    );
  }
  return converted as Static<S>;
}

function secretSafe(name: string, value: unknown): unknown {
  return /SECRET|TOKEN|PASSWORD|URL/.test(name) ? '<redacted>' : value;
}
