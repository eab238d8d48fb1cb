import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuthSchema, ErrorSchema } from '../sync/schema.js';
import { resolveTenant } from './resolve.js';

/**
 * POST /auth_validation: Talkdesk calls it when a customer activates the integration. Valid
 * credentials answer 204, and onboarding them here means the backfill is already running when
 * Talkdesk's first contact sync arrives.
 */
const authValidationRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { deps } = app;
  app.post(
    '/auth_validation',
    {
      schema: {
        summary: 'Talkdesk auth validation: 204 when the credentials verify with the CRM, 401 otherwise',
        body: Type.Object({ auth: AuthSchema }),
        response: { 204: Type.Null(), '4xx': ErrorSchema, '5xx': ErrorSchema },
      },
    },
    async (request, reply) => {
      if (deps.onboarding) await deps.onboarding.validate(request.body.auth, () => app.admitUnknownCredentials(request));
      else await resolveTenant(deps, request.body.auth, request);
      return reply.code(204).send(null);
    },
  );
};

export default authValidationRoute;
