import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import createError from '@fastify/error';
import underPressure from '@fastify/under-pressure';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** under-pressure's per-route override; `() => {}` lets a route answer even under pressure. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => Promise<void> | void;
  }
}

// A 503 with a code goes through the error handler as `{ error, message }` with Retry-After, like
// every other 503 the bridge answers.
const OverloadedError = createError('OVERLOADED', 'the bridge is overloaded; retry shortly', 503);

/**
 * Back-pressure: while the event loop lags or memory is past its limit, requests are refused at
 * once (503 OVERLOADED) instead of queueing behind the backlog and timing out. under-pressure's
 * own status route stays off: /healthz and /readyz are ours.
 */
export default fp(
  async function overload(app: FastifyInstance) {
    const { config } = app;
    await app.register(underPressure, {
      maxEventLoopDelay: config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: config.OVERLOAD_MAX_HEAP_USED_BYTES,
      maxRssBytes: config.OVERLOAD_MAX_RSS_BYTES,
      customError: OverloadedError,
      retryAfter: 5,
      exposeStatusRoute: false,
    });
  },
  { name: 'overload' },
);
