import http from 'node:http';
import https from 'node:https';
import { readAnswer, type SyncCall } from '../../src/cli/talkdesk-client.js';

export class RequestTimeout extends Error {}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * JSON POSTs over kept-alive connections with node:http, as a synchronizer holding its
 * connection open does. Not fetch: its web-stream body reading costs more per byte than the
 * server's whole page on large answers, and the benchmarks measure the server.
 */
export interface JsonPoster {
  post(body: string | Buffer): Promise<Answer>;
  close(): void;
}

export function jsonPoster(
  url: URL,
  {
    connections = 1,
    timeoutMs = 30_000,
    method = 'POST',
    headers = {},
  }: { connections?: number; timeoutMs?: number; method?: 'POST' | 'PUT'; headers?: Record<string, string> } = {},
): JsonPoster {
  const transport = url.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const post = (body: string | Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          agent,
          headers: { ...headers, 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
          });
          res.on('error', fail);
        },
      );
      // A bound on the whole exchange, not on socket idleness: a server trickling bytes is still too slow.
      const timer = setTimeout(() => req.destroy(new RequestTimeout()), timeoutMs);
      function fail(err: Error) {
        clearTimeout(timer);
        reject(err);
      }
      req.on('error', fail);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

/** The sync client's page call over a poster; `onAnswer` sees every answer as received, before it is parsed. */
export function posterSyncCall(poster: JsonPoster, onAnswer?: (answer: Answer) => void): SyncCall {
  return async (request) => {
    const answer = await poster.post(JSON.stringify(request));
    onAnswer?.(answer);
    return readAnswer(answer.status, answer.headers, answer.body);
  };
}
