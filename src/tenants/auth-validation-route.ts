import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses } from '../plugins/error-handler.js';
import { AuthSchema } from './auth-schema.js';
import { touchCredential } from './credentials.js';

/**
 * POST /auth_validation: Talkdesk calls it when a customer activates the integration. Valid
 * credentials answer 204, and onboarding them here means the backfill is already running when
 * Talkdesk's first contact sync arrives.
 */
const authValidationRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { tenants } = app;
  app.post(
    '/auth_validation',
    {
      schema: {
        summary: 'Talkdesk auth validation: 204 when the credentials verify with the CRM, 401 otherwise',
        body: Type.Object({ auth: AuthSchema }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (tenants.onboarding) await tenants.onboarding.validate(request.body.auth, () => app.admitUnknownCredentials(request));
      else await touchCredential(app.db, (await tenants.resolve(request.body.auth, request)).credential);
      return reply.code(204).send(null);
    },
  );
};

export default authValidationRoute;
