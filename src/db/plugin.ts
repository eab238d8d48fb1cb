import type { Db } from './client.js';
import { provide } from '../plugins/provide.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's PostgreSQL pool, through drizzle. */
    db: Db;
  }
}

export default provide('db');
