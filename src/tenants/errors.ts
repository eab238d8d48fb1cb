import createError from '@fastify/error';

export const UnknownCredentialsError = createError(
  'UNKNOWN_CREDENTIALS',
  'these credentials do not belong to any tenant of this bridge',
  401,
);
export const TenantNotFoundError = createError<[string]>('TENANT_NOT_FOUND', 'no tenant with id %s', 404);
export const DuplicateCredentialsError = createError(
  'DUPLICATE_CREDENTIALS',
  'a tenant with these credentials is already registered',
  409,
);
export const TooManyUnknownCredentialsError = createError<[number]>(
  'TOO_MANY_ATTEMPTS',
  'too many attempts with unknown credentials from this client; retry in %d s',
  429,
);
export const AwaitingApprovalError = createError(
  'AWAITING_APPROVAL',
  "these credentials verified, and their CRM account awaits an operator's approval on this bridge",
  401,
);
export const AccountRefusedError = createError(
  'ACCOUNT_REFUSED',
  'this CRM account is not served by this bridge: an operator has to register it',
  401,
);
export const NothingToResyncError = createError(
  'NOTHING_TO_RESYNC',
  'a tenant fed through the admin API has no CRM to resync from',
  409,
);
