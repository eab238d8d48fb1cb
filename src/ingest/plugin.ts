import type { IngestControl } from './control.js';
import { provide } from '../plugins/provide.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Ingest as the API steers it; null in a process built without the queues. */
    ingest: IngestControl | null;
  }
}

export default provide('ingest');
