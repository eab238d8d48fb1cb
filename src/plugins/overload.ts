import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import createError from '@fastify/error';
import underPressure from '@fastify/under-pressure';
import pg from 'pg';

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
 * Back-pressure: while the event loop lags, memory is past its limit, or requests would wait too
 * long for a database connection, requests are refused at once (503 OVERLOADED) instead of
 * queueing behind the backlog and timing out. Routes with a `pressureHandler` (liveness, metrics)
 * always answer. under-pressure's own status route stays off: /healthz and /readyz are ours.
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

    // Measured with `npm run load` (docs/load.md): past capacity, the sync endpoint's bottleneck is
    // the database, not the event loop. A thousand concurrent runs kept the mean event-loop delay
    // near 200 ms, far under its limit, while 990 requests queued in the pool for its 10
    // connections; each waited the pool's 5 s connect timeout and then failed as
    // DATABASE_UNAVAILABLE, an outage that was not one. So requests are also refused up front
    // while the wait for a connection is estimated to exceed half that timeout: what is admitted
    // gets a connection in time, and what is refused is refused at once, as OVERLOADED.
    //
    // A request is admitted, and counted, once its body is in (preHandler), not from its first
    // byte (issue 13): until then it needs no connection, and a few hundred sockets that sent
    // headers and a Content-Length and then nothing were counted as work queued for the pool,
    // which turned every caller away as OVERLOADED until the request timeout closed them.
    const pool = poolOf(app.db);
    const maxWaitMs = (pool?.options.connectionTimeoutMillis ?? 0) / 2;
    if (!pool || maxWaitMs <= 0) return;
    const wait = new PoolWait(pool);
    app.addHook('preHandler', async (request, reply) => {
      if (request.routeOptions.config.pressureHandler) return;
      if (wait.estimateMs() > maxWaitMs) throw new OverloadedError();
      wait.admitted(reply);
    });
  },
  { name: 'overload' },
);

/** The pg pool behind a drizzle database, when there is one (drizzle keeps it as `$client`). */
function poolOf(db: unknown): pg.Pool | undefined {
  const client = (db as { $client?: unknown } | undefined)?.$client;
  return client instanceof pg.Pool ? client : undefined;
}

/**
 * How long a query asked for now would wait for a connection: the work queued ahead of it, each
 * item holding a connection about as long as recent ones did, served by the pool's connections in
 * parallel. The work ahead is the pool's own queue, or the requests admitted beyond the pool's
 * size when that is more: a burst of requests is admitted long before its queries reach the pool.
 */
export class PoolWait {
  /** How long a connection is held, in ms: a weighted mean that follows increases quickly. */
  private holdMs = 0;
  private readonly acquiredAt = new WeakMap<object, number>();
  private inFlight = 0;

  constructor(private readonly pool: pg.Pool) {
    pool.on('acquire', (client: object) => this.acquiredAt.set(client, performance.now()));
    pool.on('release', (_err: unknown, client: object) => {
      const at = this.acquiredAt.get(client);
      if (at === undefined) return;
      const held = performance.now() - at;
      // Quick to rise, slow to fall: when contention grows, the estimate must not lag behind it,
      // or what was admitted at the old pace waits past the pool's timeout after all.
      const weight = held > this.holdMs ? 0.5 : 0.05;
      this.holdMs = this.holdMs === 0 ? held : this.holdMs + weight * (held - this.holdMs);
    });
  }

  /** Counts a request until its response is done or its connection gone ('close' comes either way). */
  admitted(reply: FastifyReply): void {
    this.inFlight++;
    reply.raw.once('close', () => this.inFlight--);
  }

  estimateMs(): number {
    const connections = Math.max(1, this.pool.options.max ?? 10);
    const queued = Math.max(this.pool.waitingCount, this.inFlight - connections);
    return queued <= 0 ? 0 : (queued * this.holdMs) / connections;
  }
}
