import Fastify from 'fastify';
import type { Logger } from 'pino';
import { sendMetrics } from '../plugins/metrics.js';
import type { Metrics } from './registry.js';

export interface MetricsServer {
  /**
   * Listens on host:port and returns its base URL; a port it cannot have (in use, not allowed) is
   * logged as a warning and resolves undefined, because a process that cannot be scraped still
   * serves Talkdesk and ingests.
   */
  listen(): Promise<string | undefined>;
  /** The base URL once listening. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/**
 * Where GET /metrics is served when METRICS_TOKEN is unset: a server of its own on an internal
 * interface (METRICS_HOST, 127.0.0.1 by default), without a token, so a sidecar or node-local
 * Prometheus can scrape it while the public port answers 404. It serves nothing else.
 */
export function buildMetricsServer({ metrics, host, port, log }: { metrics: Metrics; host: string; port: number; log: Logger }): MetricsServer {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => sendMetrics(metrics, reply));
  let url: string | undefined;
  return {
    async listen() {
      try {
        url = await app.listen({ host, port });
        log.info({ url: `${url}/metrics` }, 'metrics served');
      } catch (err) {
        log.warn(
          { err: (err as Error).message, host, port },
          'the metrics server could not listen, so this process serves no metrics (set METRICS_PORT to a free port, or METRICS_TOKEN to serve them on PORT)',
        );
      }
      return url;
    },
    get url() {
      return url;
    },
    close: () => app.close(),
  };
}
