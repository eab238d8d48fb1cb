import { BlockList, isIPv4, isIPv6, type Socket } from 'node:net';
import type { ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { trustedProxies, type Config } from '../config.js';

type EdgeConfig = Pick<
  Config,
  'REQUEST_TIMEOUT_SECONDS' | 'CONNECTION_TIMEOUT_SECONDS' | 'KEEP_ALIVE_TIMEOUT_SECONDS' | 'MAX_CONNECTIONS_PER_CLIENT' | 'TRUST_PROXY'
>;

/**
 * The Fastify constructor's options for the HTTP edge: how long a request may take to arrive
 * (issue 13: connections that sent headers and a Content-Length, then nothing, were held open
 * forever, Fastify's request timeout being off by default), how long a connection may sit silent
 * (a client that stops reading an answer), how long an idle keep-alive connection stays, and
 * whose X-Forwarded-For names the client.
 */
export function edgeServerOptions(config: EdgeConfig) {
  const requestTimeout = config.REQUEST_TIMEOUT_SECONDS * 1000;
  const proxies = trustedProxies(config.TRUST_PROXY);
  return {
    requestTimeout,
    connectionTimeout: config.CONNECTION_TIMEOUT_SECONDS * 1000,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    trustProxy: proxies.length > 0 ? proxies : false,
    clientErrorHandler: clientError(config.REQUEST_TIMEOUT_SECONDS),
    /** For http.createServer (or https's, merged into its options). */
    server: {
      // Node looks for expired requests only every connectionsCheckingInterval (30 s by default),
      // which would stretch a 30 s timeout to a minute: look four times per timeout.
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestTimeout / 4)),
      // Headers that trickle in are bounded by the same budget as the whole request.
      headersTimeout: Math.min(60_000, requestTimeout),
    } satisfies ServerOptions,
  };
}

/**
 * What Node refuses before Fastify sees a request (a request that did not arrive in time, headers
 * over the size limit, bytes that are not HTTP) answered in the bridge's `{ error, message }`
 * shape, like every other error, and the connection closed. Fastify's default words them its own way.
 */
function clientError(requestTimeoutSeconds: number) {
  const answers: Record<string, [number, string, string, string]> = {
    ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT', `the request did not arrive within ${requestTimeoutSeconds} s`],
    HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers are over the size limit'],
  };
  return function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, error, message] = answers[err.code ?? ''] ?? [400, 'Bad Request', 'BAD_REQUEST', 'the request is not valid HTTP'];
    const body = JSON.stringify({ error, message });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/**
 * The connections one client may hold, counted per remote address (IPv6 by /64, as the
 * unknown-credentials limit counts) from the raw server's 'connection' event; past
 * MAX_CONNECTIONS_PER_CLIENT a new connection is closed before a byte of it is read. Peers
 * listed in TRUST_PROXY are not capped: their connections carry every client behind them, whose
 * limits are the proxy's to enforce (README, Operations).
 */
export default fp(
  async function connectionLimit(app: FastifyInstance) {
    const max = app.config.MAX_CONNECTIONS_PER_CLIENT;
    if (max <= 0) return;
    const proxies = proxyList(trustedProxies(app.config.TRUST_PROXY));
    const open = new Map<string, number>();
    // Before the HTTP server's own listener: a refused socket never gets a parser.
    app.server.prependListener('connection', (socket: Socket) => {
      const address = unmapped(socket.remoteAddress ?? '');
      if (!address || proxies.check(address, isIPv6(address) ? 'ipv6' : 'ipv4')) return;
      const key = clientKey(address);
      const count = open.get(key) ?? 0;
      if (count >= max) {
        socket.destroy();
        return;
      }
      open.set(key, count + 1);
      socket.once('close', () => {
        const left = (open.get(key) ?? 1) - 1;
        if (left > 0) open.set(key, left);
        else open.delete(key);
      });
    });
  },
  { name: 'connection-limit', dependencies: ['config'] },
);

function proxyList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** An IPv4 client of a dual-stack socket is `::ffff:a.b.c.d`: it is the IPv4 address. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** An IPv4 address as itself; an IPv6 one by its /64, since one host is routinely given a whole /64. */
export function clientKey(address: string): string {
  if (!isIPv6(address)) return address;
  const withoutZone = address.split('%')[0]!;
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const [head = '', tail] = withoutZone.split('::');
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
