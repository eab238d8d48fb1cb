import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticationError, expiredAuthenticationError, missingScopesError, rateLimitError, serverError } from './errors.js';
import type { EndpointName, FaultBook } from './faults.js';
import type { ResolvedToken } from './oauth.js';
import type { Portal, PortalRegistry } from './portals.js';
import { TEN_SECONDS_MS } from './rate-limit.js';
import { missingScope } from './scopes.js';
import type { StatsRecorder } from './stats.js';

export const CORRELATION_HEADER = 'x-hubspot-correlation-id';

export interface GatewayDeps {
  registry: PortalRegistry;
  faults: FaultBook;
  stats: StatsRecorder;
  clock: () => number;
  /** OAuth access tokens (oauth.ts): a token no private app has is looked up here. */
  oauthToken?: (token: string) => ResolvedToken | undefined;
  /** The HubSpot endpoint a matched route serves; undefined for the sim's own routes. */
  endpointOf(method: string, routeUrl: string | undefined): EndpointName | undefined;
}

interface InFlight {
  portal: Portal;
  endpoint: EndpointName;
  released: boolean;
}

/**
 * What stands between a client and the CRM handlers, in HubSpot's order as far as a client can
 * observe it: authentication, the token's scopes, latency, then the rate limits. Injected faults are served before the
 * limits so a test gets exactly the responses it lined up.
 */
export function installGateway(app: FastifyInstance, deps: GatewayDeps): (request: FastifyRequest) => Portal {
  const { registry, faults, stats, clock } = deps;
  const inFlight = new WeakMap<FastifyRequest, InFlight>();

  const release = (request: FastifyRequest) => {
    const f = inFlight.get(request);
    if (f && !f.released) {
      f.released = true;
      stats.end(f.portal.id);
    }
  };

  app.addHook('onRequest', async (request, reply) => {
    const endpoint = deps.endpointOf(request.method, request.routeOptions.url);
    if (!endpoint) return;
    const correlationId = randomUUID();
    reply.header(CORRELATION_HEADER, correlationId);

    const token = bearerToken(request.headers.authorization) ?? '';
    let portal = registry.byToken(token);
    let scopes = registry.scopesOf(token);
    if (!portal) {
      const oauth = deps.oauthToken?.(token);
      if (oauth?.kind === 'expired') return reply.code(401).send(expiredAuthenticationError(correlationId, oauth.expiredMs));
      if (oauth?.kind !== 'valid') return reply.code(401).send(authenticationError(correlationId));
      portal = registry.get(oauth.portalId);
      scopes = oauth.scopes;
    }
    inFlight.set(request, { portal, endpoint, released: false });
    stats.begin(portal.id);

    const lacking = missingScope(endpoint, scopes);
    if (lacking !== undefined) return reply.code(403).send(missingScopesError(correlationId, lacking));

    const delay = faults.delayFor(portal.id, endpoint);
    if (delay > 0) await sleep(delay);

    // HubSpot's spec exempts search from the ten-secondly limit, and its search responses carry
    // no X-HubSpot-RateLimit-* headers; search has its own per-second limit instead.
    const isSearch = endpoint === 'contacts.search';
    const fault = faults.take(portal.id, endpoint);
    if (fault?.kind === 'fail') {
      if (!isSearch) rateLimitHeaders(reply, portal, portal.limiter.remaining(clock()));
      return reply.code(fault.status).send(serverError(fault.status, correlationId));
    }
    if (fault?.kind === 'rate-limit') {
      if (!isSearch) rateLimitHeaders(reply, portal, 0);
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      const group = fault.policy === 'TEN_SECONDLY_ROLLING' ? portal.rateLimitGroup : undefined;
      return reply.code(429).send(rateLimitError(fault.policy, correlationId, group));
    }

    const decision = portal.limiter.admit(isSearch, clock());
    if (!isSearch) rateLimitHeaders(reply, portal, decision.remaining);
    if (!decision.allowed) {
      const group = decision.policy === 'TEN_SECONDLY_ROLLING' ? portal.rateLimitGroup : undefined;
      return reply.code(429).send(rateLimitError(decision.policy, correlationId, group));
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const endpoint = deps.endpointOf(request.method, request.routeOptions.url);
    if (!endpoint) return;
    stats.record(inFlight.get(request)?.portal.id, endpoint, reply.statusCode);
    release(request);
  });

  // A client that gives up (a timeout) must not leave the request counted as in flight.
  app.addHook('onRequestAbort', async (request) => release(request));

  /** The portal a request authenticated as; handlers of gateway-guarded routes only. */
  return (request) => {
    const f = inFlight.get(request);
    if (!f) throw new Error(`${request.method} ${request.url} did not pass the gateway`);
    return f.portal;
  };
}

function rateLimitHeaders(reply: FastifyReply, portal: Portal, remaining: number): void {
  reply.header('X-HubSpot-RateLimit-Interval-Milliseconds', String(TEN_SECONDS_MS));
  reply.header('X-HubSpot-RateLimit-Max', String(portal.limiter.limits.tenSecondly));
  reply.header('X-HubSpot-RateLimit-Remaining', String(remaining));
}

function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}
