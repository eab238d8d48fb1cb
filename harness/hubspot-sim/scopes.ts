import type { EndpointName } from './faults.js';

/**
 * The scope each endpoint needs, by HubSpot's granular names (a private app's "Scopes" tab, an
 * OAuth app's scope list). Account details need none: any token of the portal reads them, which
 * is why they prove nothing about what a token may do.
 */
export const REQUIRED_SCOPE: Record<EndpointName, string | undefined> = {
  'account-info': undefined,
  'contacts.list': 'crm.objects.contacts.read',
  'contacts.search': 'crm.objects.contacts.read',
  'contacts.get': 'crm.objects.contacts.read',
  'contacts.batch-read': 'crm.objects.contacts.read',
  'contacts.create': 'crm.objects.contacts.write',
  'contacts.update': 'crm.objects.contacts.write',
  'contacts.archive': 'crm.objects.contacts.write',
};

/** The scope a token granted `scopes` (undefined: every scope) lacks for this endpoint, if any. */
export function missingScope(endpoint: EndpointName, scopes: ReadonlySet<string> | undefined): string | undefined {
  const required = REQUIRED_SCOPE[endpoint];
  return required === undefined || scopes === undefined || scopes.has(required) ? undefined : required;
}
