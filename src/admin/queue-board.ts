import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { ControllerHandlerReturnType } from '@bull-board/api/typings/app';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * Bull Board over the ingest queue, for operators: see stuck or failed jobs, retry and clean them.
 * Registered inside the `/admin` scope, whose hook covers the board's page, its static assets and
 * its API. No queue (a process built without the queues): no board.
 */
const queueBoard: FastifyPluginAsync = async (app) => {
  const queue = app.ingest?.queue;
  if (!queue) return;

  const serverAdapter = new BridgeBoardAdapter(app.initialConfig.bodyLimit ?? 1024 * 1024);
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue)],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'contact-bridge ingest' } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: '/queues' });
};

/**
 * Bull Board's error handler answers every error as `{ error: { key } }`. The errors Fastify
 * raises before the board's handler runs are the client's (a body over the limit, JSON that does
 * not parse, a content type it cannot read): those keep their 4xx and the bridge's
 * `{ error, message }`, like on every other route. The board's own errors stay its own.
 */
class BridgeBoardAdapter extends FastifyAdapter {
  /** The board's routes set no limit of their own: the app's default is theirs. */
  constructor(private readonly bodyLimit: number) {
    super();
  }

  override setErrorHandler(handler: Parameters<FastifyAdapter['setErrorHandler']>[0]): this {
    return super.setErrorHandler((error) => {
      const { statusCode, code } = error as Partial<FastifyError>;
      if (statusCode !== undefined && statusCode >= 400 && statusCode < 500 && code?.startsWith('FST_')) {
        const body =
          code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? { error: 'BODY_TOO_LARGE', message: `the request body is over this route's limit of ${this.bodyLimit} bytes` }
            : { error: code, message: error.message };
        return { status: statusCode as ControllerHandlerReturnType['status'], body };
      }
      return handler(error);
    });
  }
}

export default queueBoard;
