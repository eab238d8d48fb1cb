import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { OAuthError, type OAuthBook } from './oauth.js';

/**
 * HubSpot's OAuth endpoints (see oauth.ts): the authorize page, the token endpoint (form-encoded,
 * as the official client's `oauth.tokensApi.create` sends it; JSON accepted too), token
 * introspection and refresh-token deletion. They pass no gateway: no bearer token, no rate limit.
 */
export function registerOAuthRoutes(app: FastifyInstance, oauth: OAuthBook): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const refuse = (err: unknown, reply: import('fastify').FastifyReply) => {
    if (!(err instanceof OAuthError)) throw err;
    return reply.code(err.statusCode).send(err.body(randomUUID()));
  };

  app.get('/oauth/authorize', async (request, reply) => {
    try {
      return reply.redirect(oauth.authorize(request.query as Record<string, string | undefined>), 302);
    } catch (err) {
      return refuse(err, reply);
    }
  });

  app.post('/oauth/v1/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, unknown>;
    const strings = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, typeof v === 'string' ? v : v === undefined ? undefined : String(v)]));
    try {
      return oauth.token(strings);
    } catch (err) {
      return refuse(err, reply);
    }
  });

  app.get('/oauth/v1/access-tokens/:token', async (request, reply) => {
    const info = oauth.accessTokenInfo((request.params as { token: string }).token);
    return info ?? reply.code(404).send({ status: 'error', message: 'Token not found, expired or revoked', correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
  });

  app.get('/oauth/v1/refresh-tokens/:token', async (request, reply) => {
    const info = oauth.refreshTokenInfo((request.params as { token: string }).token);
    return info ?? reply.code(404).send({ status: 'error', message: 'Refresh token not found or revoked', correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
  });

  app.delete('/oauth/v1/refresh-tokens/:token', async (request, reply) => {
    const revoked = oauth.revokeRefreshToken((request.params as { token: string }).token);
    return revoked ? reply.code(204).send() : reply.code(404).send({ status: 'error', message: 'Refresh token not found', correlationId: randomUUID(), category: 'OBJECT_NOT_FOUND' });
  });
}
