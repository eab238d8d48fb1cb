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

const Check = Type.String({ description: "'ok', 'not used', or 'unreachable: <what failed>' (never a host, user or driver message)" });
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
        probe(() => db.execute(sql`SELECT 1`), (err) => app.log.warn({ check: 'postgres', err: detail(err) }, 'readiness check failed')),
        pingRedis ? probe(pingRedis, (err) => app.log.warn({ check: 'redis', err: detail(err) }, 'readiness check failed')) : Promise.resolve('not used'),
      ]);
      const ready = postgres === 'ok' && (redis === 'ok' || redis === 'not used');
      if (!ready) reply.code(503).header('retry-after', '5');
      return { status: ready ? ('ready' as const) : ('not ready' as const), checks: { postgres, redis } };
    },
  );
};

const TIMED_OUT = Symbol('timed out');

/**
 * 'ok', or 'unreachable: <what failed>' when the check fails or does not answer in time. What
 * failed, never where: the driver's messages name hosts, ports and user names (issue 13: /readyz
 * answered anyone with `connect ECONNREFUSED <host>` or `role "<user>" does not exist`), so the
 * answer says only the kind of failure and the detail goes to the log.
 */
async function probe(check: () => Promise<unknown>, log: (err: unknown) => void): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(TIMED_OUT), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'ok';
  } catch (err) {
    if (err === TIMED_OUT) return 'unreachable: timed out';
    log(err);
    return `unreachable: ${kindOf(err)}`;
  } finally {
    clearTimeout(timer);
  }
}

// Socket errors by code, and PostgreSQL's by SQLSTATE class (28: authorization, 3D: no such
// database, 53/57: the server is short of resources or shutting down).
const KINDS: Array<[RegExp, string]> = [
  [/^ECONNREFUSED$/, 'connection refused'],
  [/^(ETIMEDOUT|ESOCKETTIMEDOUT)$/, 'timed out'],
  [/^(ENOTFOUND|EAI_AGAIN)$/, 'host not found'],
  [/^(ECONNRESET|EPIPE|ECONNABORTED)$/, 'connection lost'],
  [/^(EHOSTUNREACH|ENETUNREACH)$/, 'no route to host'],
  [/^28/, 'login refused'],
  [/^3D/, 'no such database'],
  [/^(53|57)/, 'server unavailable'],
];

/** The kind of failure, from error codes only: drizzle wraps the driver's error as its cause, and a refusal on every address of a host is an AggregateError. */
function kindOf(err: unknown): string {
  const e = err as { code?: unknown; errors?: unknown[]; cause?: unknown } | null;
  if (e?.cause) return kindOf(e.cause);
  if (Array.isArray(e?.errors) && e.errors.length > 0) return kindOf(e.errors[0]);
  const code = typeof e?.code === 'string' ? e.code : '';
  if (/timeout|timed out/i.test(String((err as { message?: unknown })?.message ?? ''))) return 'timed out';
  return KINDS.find(([pattern]) => pattern.test(code))?.[1] ?? 'failed';
}

/** The driver's own words, for the log: what happened and where. */
function detail(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: unknown[]; cause?: unknown };
  if (e.cause) return detail(e.cause);
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(detail).join('; ');
  return [e.code, e.message].filter(Boolean).join(' ') || String(err);
}

export default fp(health, { name: 'health' });
