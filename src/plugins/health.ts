import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { sql } from 'drizzle-orm';
import fp from 'fastify-plugin';
import { ErrorSchema } from './error-handler.js';

export interface HealthOptions {
  /** Asks Redis for a sign of life, where this process runs the ingest workers (whose work needs it). */
  pingRedis?: () => Promise<unknown>;
}

// Short: a probe that waits for the pool's 5 s connect timeout is a probe that times out itself.
const CHECK_TIMEOUT_MS = 2_000;

const Check = Type.String({ description: "'ok', 'not used', or 'unreachable: <why>'" });
const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Object({ postgres: Check, redis: Check }),
});

/**
 * Liveness and readiness for orchestrators and load balancers. /healthz says only that the
 * process answers (restarting a process because PostgreSQL is down would not help); /readyz says
 * whether it can do its work now. Neither needs a token, and neither says more than what failed.
 */
const health: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { pingRedis }) => {
  const { db } = app;

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process is up',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
      // A process busy enough to be refusing work is still alive: it must not be restarted for it.
      config: { pressureHandler: () => {} },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: PostgreSQL answers (and Redis, where this process runs the ingest workers)',
        description: '503 with Retry-After names the dependency that failed. Also 503 OVERLOADED while the process is overloaded.',
        tags: ['operations'],
        // 503 OVERLOADED (under-pressure) is the usual error shape.
        response: { 200: ReadySchema, 503: Type.Union([ReadySchema, ErrorSchema]) },
      },
    },
    async (_request, reply) => {
      const [postgres, redis] = await Promise.all([
        probe(() => db.execute(sql`SELECT 1`)),
        pingRedis ? probe(pingRedis) : Promise.resolve('not used'),
      ]);
      const ready = postgres === 'ok' && (redis === 'ok' || redis === 'not used');
      if (!ready) reply.code(503).header('retry-after', '5');
      return { status: ready ? ('ready' as const) : ('not ready' as const), checks: { postgres, redis } };
    },
  );
};

/** 'ok', or 'unreachable: <message>' when the check fails or does not answer in time. */
async function probe(check: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `unreachable: ${describe(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

// The driver's own error says what happened; drizzle wraps it ("Failed query: …") as the cause.
// A connection refused on every address of a host name is an AggregateError with no message.
function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[]; cause?: unknown };
  if (e.cause) return describe(e.cause);
  if (e.message) return e.message;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(describe).join('; ');
  return e.code ?? String(err);
}

export default fp(health, { name: 'health' });
