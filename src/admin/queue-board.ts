import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { adminAuth } from '../plugins/admin-auth.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Bull Board over the ingest queue, for operators: see stuck or failed jobs, retry and clean them.
 * Encapsulated (no fastify-plugin), so the admin hook below covers the board's page, its static
 * assets and its API, and nothing outside it. No queue (a process without Redis): no board.
 */
const queueBoard: FastifyPluginAsync = async (app) => {
  const { queue } = app.deps;
  if (!queue) return;

  const checkAdmin = adminAuth(app.config.ADMIN_TOKEN);
  app.addHook('onRequest', async (request, reply) => {
    try {
      await checkAdmin(request, reply);
    } catch (err) {
      // Thrown, the refusal would reach Bull Board's error handler, which words every error as its
      // INTERNAL_SERVER_ERROR; answered here it keeps the admin API's status and { error, message }.
      const { statusCode = 500, code, message } = err as FastifyError;
      return reply.code(statusCode).send({ error: code, message });
    }
  });

  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'contact-bridge ingest' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
};

export default queueBoard;
