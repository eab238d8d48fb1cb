import type { TestApp } from './app.js';

/** The bridge's HubSpot app as the simulator knows it, and the environment that configures it. */
export const HUBSPOT_APP = { appId: 777_001, clientId: 'bridge-client-id', clientSecret: 'bridge-client-secret' };

export function oauthEnv(simUrl: string, publicUrl = 'https://bridge.example.com'): Record<string, string> {
  return {
    HUBSPOT_CLIENT_ID: HUBSPOT_APP.clientId,
    HUBSPOT_CLIENT_SECRET: HUBSPOT_APP.clientSecret,
    HUBSPOT_AUTHORIZE_URL: `${simUrl}/oauth/authorize`,
    PUBLIC_URL: publicUrl,
  };
}

/** The state cookie a Set-Cookie header sets, as a Cookie header would send it back. */
export function stateCookie(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  if (!header) throw new Error('no Set-Cookie');
  return header.split(';')[0]!;
}

export interface Started {
  cookie: string;
  /** The callback URL (path and query) HubSpot's authorize page sent the browser back to. */
  callback: string;
  state: string;
  code: string;
}

/** A browser's first two steps: GET /connect/hubspot, then the (simulated) authorize page, which approves at once. */
export async function startConnection(h: Pick<TestApp, 'app'>): Promise<Started> {
  const start = await h.app.inject({ method: 'GET', url: '/connect/hubspot' });
  if (start.statusCode !== 302) throw new Error(`/connect/hubspot answered ${start.statusCode}: ${start.body}`);
  const approved = await fetch(String(start.headers.location), { redirect: 'manual' });
  if (approved.status !== 302) throw new Error(`authorize answered ${approved.status}: ${await approved.text()}`);
  const back = new URL(approved.headers.get('location')!);
  return {
    cookie: stateCookie(start.headers['set-cookie']),
    callback: `${back.pathname}${back.search}`,
    state: back.searchParams.get('state')!,
    code: back.searchParams.get('code')!,
  };
}

export const connectionKeyOf = (html: string) => /<code id="connection-key">([^<]+)<\/code>/.exec(html)?.[1];

/** Connects the simulator's first portal through the pages; returns the connection key shown. */
export async function connect(h: Pick<TestApp, 'app'>): Promise<string> {
  const { cookie, callback } = await startConnection(h);
  const res = await h.app.inject({ method: 'GET', url: callback, headers: { cookie } });
  const key = connectionKeyOf(res.body);
  if (res.statusCode !== 200 || !key) throw new Error(`callback answered ${res.statusCode}: ${res.body}`);
  return key;
}
