import type { Config } from '../config.js';
import { provide } from './provide.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The configuration the process was started with (src/config.ts), read once. */
    config: Config;
  }
}

export default provide('config');
