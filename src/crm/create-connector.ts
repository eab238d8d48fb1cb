import type { CountryCode } from 'libphonenumber-js/max';
import type { Config } from '../config.js';
import type { Connector } from './connector.js';
import { HubSpotConnector } from './hubspot/connector.js';
import type { HubSpotEndpoint } from './hubspot/client.js';
import { RollingWindowLimiter } from './rate-limiter.js';

export interface ConnectorHooks {
  onResponse?: (endpoint: HubSpotEndpoint, status: number) => void;
}

/** The deployment's CRM (CRM=hubspot), configured from the environment. */
export function createConnector(config: Config, hooks: ConnectorHooks = {}): Connector {
  return new HubSpotConnector({
    baseUrl: config.HUBSPOT_BASE_URL,
    timeoutMs: config.HUBSPOT_REQUEST_TIMEOUT_MS,
    tenSecondLimit: config.HUBSPOT_TEN_SECOND_LIMIT,
    searchPerSecondLimit: config.HUBSPOT_SEARCH_PER_SECOND_LIMIT,
    overlapSeconds: config.HUBSPOT_SEARCH_OVERLAP_SECONDS,
    defaultRegion: config.DEFAULT_PHONE_REGION as CountryCode,
    limiter: new RollingWindowLimiter(),
    onResponse: hooks.onResponse,
  });
}
