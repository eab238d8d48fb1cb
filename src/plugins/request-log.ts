import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** What the sync route knows about its request, for the request's log line. */
export interface SyncLogFields {
  tenant?: string;
  kind?: 'initial' | 'incremental';
  /** Page number within the run (1 = first); absent for offsets issued before it was carried. */
  page?: number;
  contacts?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    syncLog: SyncLogFields | null;
  }
}

// Probes and scrapes arrive every few seconds; at info they would drown the requests that matter.
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A Server-Timing header on every answer, and one log line per request, written when the answer is sent, instead of Fastify's two (incoming
 * / completed, which the app turns off): what an operator greps for is in a single JSON object,
 * the request id (`reqId`) included. Secrets never get here: see logging.ts for the redaction.
 */
export default fp(
  async function requestLog(app: FastifyInstance) {
    app.decorateRequest('syncLog', null);
    // The server's own time for the answer (routing, handler, database, serialization), so a
    // client measuring latency can tell the network and its own parsing apart from ours.
    app.addHook('onSend', async (_request, reply) => {
      reply.header('server-timing', `app;dur=${reply.elapsedTime.toFixed(2)}`);
    });
    app.addHook('onResponse', async (request, reply) => {
      const line = {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
        ip: request.ip,
        ...request.syncLog,
      };
      if (QUIET_ROUTES.has(request.routeOptions.url ?? '')) request.log.debug(line, 'request completed');
      else request.log.info(line, 'request completed');
    });
  },
  { name: 'request-log' },
);
