import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import { TooManyUnknownCredentialsError } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one attempt with credentials the bridge does not know against the request's client
     * (its IP; IPv6 by /64) and throws TOO_MANY_ATTEMPTS (429, Retry-After) past its budget.
     */
    admitUnknownCredentials(request: FastifyRequest): Promise<void>;
  }
}

export interface UnknownCredentialsLimitOptions {
  /** Unknown-credential attempts allowed per client per minute. */
  attemptsPerMinute?: number;
}

/**
 * Guessing credentials costs an attacker one request per guess, and an unknown token may cost
 * the bridge a CRM call; Talkdesk's own runs with known credentials may be any number of
 * requests. So no route is limited as such (`global: false`): the tenant lookup calls this
 * only when the credentials match no tenant, and only those attempts count.
 *
 * Counted per client by the rate limiter's default key, `request.ip` (IPv6 by /64). Behind a
 * proxy that is the proxy's address for everyone, so 30 junk requests a minute locked out every
 * new customer (issue 13); with TRUST_PROXY naming the proxy, Fastify takes the client from its
 * X-Forwarded-For, and only from a listed proxy's, so no client can pick another's budget.
 */
export default fp(
  async function unknownCredentialsLimit(app: FastifyInstance, { attemptsPerMinute = 30 }: UnknownCredentialsLimitOptions) {
    await app.register(rateLimit, { global: false });
    const limit = app.createRateLimit({ max: attemptsPerMinute, timeWindow: 60_000 });
    app.decorate('admitUnknownCredentials', async (request: FastifyRequest) => {
      const verdict = await limit(request);
      if (verdict.isAllowed || !verdict.isExceeded) return;
      const retryAfter = Math.max(1, verdict.ttlInSeconds);
      throw Object.assign(new TooManyUnknownCredentialsError(retryAfter), { headers: { 'retry-after': String(retryAfter) } });
    });
  },
  { name: 'unknown-credentials-limit' },
);
