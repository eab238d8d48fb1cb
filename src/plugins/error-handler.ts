import type { FastifyError, FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import fp from 'fastify-plugin';
import { isDatabaseUnavailable } from '../db/availability.js';

/** Every error answer, on every route: `{ error: <stable code>, message }`. */
export const ErrorSchema = Type.Object({
  error: Type.String({ description: 'stable error code' }),
  message: Type.String(),
  index: Type.Optional(Type.Integer()),
});

/** The error answers of a route's response schema. */
export const errorResponses = { '4xx': ErrorSchema, '5xx': ErrorSchema };

/**
 * One place turns errors into answers: a domain or client error keeps its status and stable code
 * as `{ error, message }`; a database outage is a 503 with Retry-After; anything else is a logged
 * 500 whose body says nothing internal.
 */
export default fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError & { index?: number; headers?: Record<string, string> }, request, reply) => {
      if (err.validation) {
        return reply.code(400).send({ error: 'INVALID_REQUEST', message: err.message });
      }
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const limit = request.routeOptions.bodyLimit;
        return reply.code(413).send({ error: 'BODY_TOO_LARGE', message: `the request body is over this route's limit of ${limit} bytes` });
      }
      const status = err.statusCode ?? 500;
      // Client errors, and a 503 a domain error chose (a CRM that cannot verify right now).
      if ((status >= 400 && status < 500) || (status === 503 && err.code)) {
        const body: Record<string, unknown> = { error: err.code ?? 'BAD_REQUEST', message: err.message };
        if (err.index !== undefined) body.index = err.index;
        // A domain error may carry its own headers (a rate limit's exact Retry-After).
        if (err.headers) reply.headers(err.headers);
        if (status === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
        if (status === 503) reply.header('retry-after', '5');
        return reply.code(status).send(body);
      }
      if (isDatabaseUnavailable(err)) {
        request.log.warn({ err }, 'database unavailable');
        return reply
          .code(503)
          .header('retry-after', '5')
          .send({ error: 'DATABASE_UNAVAILABLE', message: 'the contact mirror is unavailable; retry shortly' });
      }
      request.log.error({ err }, 'unexpected error');
      return reply.code(500).send({ error: 'INTERNAL_ERROR', message: 'internal error' });
    });

    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` }),
    );
  },
  { name: 'error-handler' },
);
