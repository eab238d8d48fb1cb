import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { buildTestApp, type TestApp } from './helpers/app.js';

// Regression: bodies that never arrive (issue 13). A few hundred connections that sent headers
// and a Content-Length, then nothing, were counted by the overload guard from their first byte
// while Fastify's request timeout was off: every caller got 503 OVERLOADED and /healthz stayed
// green, for as long as the attacker kept the sockets open.

const STALLED = 300;
// Short, so the test sees the timeout act; production's default is REQUEST_TIMEOUT_SECONDS=30.
const REQUEST_TIMEOUT_SECONDS = 2;
// The bound the test holds the server to: every stalled connection closed well within a minute.
const CLOSED_WITHIN_MS = 30_000;

const auth = { api_key: 'k-edge' };

async function listening(t: Test, env: Record<string, string>): Promise<{ h: TestApp; port: number }> {
  const h = await buildTestApp(t, { REQUEST_TIMEOUT_SECONDS: String(REQUEST_TIMEOUT_SECONDS), ...env });
  const id = await h.createTenant(auth);
  // Ten thousand contacts in one push: the pool's measured hold time is that of a large write,
  // what a busy bridge's is, so work queued ahead of a request weighs in the estimate.
  await h.push(id, Array.from({ length: 10_000 }, (_, i) => ({ id: `c${i}`, name: `Contact ${i}`, phones: [`+1555${String(i).padStart(7, '0')}`] })));
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  return { h, port: (h.app.server.address() as AddressInfo).port };
}

interface Stalled {
  socket: Socket;
  /** Resolves when the server closed the connection, with what it sent first. */
  closed: Promise<string>;
}

/** A connection that sends a request's headers, promising a body, and then nothing. */
function stall(port: number, path: string, localAddress = '127.0.0.1'): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<string>((done) => socket.once('close', () => done(received)));
    socket.once('error', () => {});
    socket.once('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"auth":`);
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

/** A Talkdesk sync page over a real connection. */
async function syncOverHttp(h: TestApp, port: number): Promise<{ status: number; body: { contacts?: unknown[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}${h.config.SYNC_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ auth, meta: {} }),
  });
  return { status: res.status, body: (await res.json()) as { contacts?: unknown[] } };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

t.test('300 connections whose bodies never arrive leave a normal sync answering, and are closed by the request timeout', async (t) => {
  // Room for all of them from one address: this test is about the timeout and the guard, not the cap.
  const { h, port } = await listening(t, { MAX_CONNECTIONS_PER_CLIENT: String(STALLED + 50) });
  const stalled = await Promise.all(Array.from({ length: STALLED }, () => stall(port, h.config.SYNC_PATH)));
  t.teardown(() => stalled.forEach((s) => s.socket.destroy()));
  // The server has read their headers: each is a request waiting for its body.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(stalled.every((s) => !s.socket.destroyed), 'the stalled connections are open');

  const sync = await syncOverHttp(h, port);
  t.equal(sync.status, 200, `a normal sync answers while ${STALLED} bodies stall`, { body: sync.status === 200 ? undefined : sync.body });
  t.equal(sync.body.contacts?.length, h.config.SYNC_PAGE_SIZE, 'with its page');
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, '/healthz answers too');

  const answers = await within(Promise.all(stalled.map((s) => s.closed)), CLOSED_WITHIN_MS, `all ${STALLED} stalled connections closed`);
  t.equal(answers.length, STALLED, `the server closed all ${STALLED}`);
  t.same(new Set(answers.map((a) => a.split('\r\n')[0])), new Set(['HTTP/1.1 408 Request Timeout']), 'each answered 408, none 503');
  t.same(JSON.parse(answers[0]!.split('\r\n\r\n')[1]!), { error: 'REQUEST_TIMEOUT', message: `the request did not arrive within ${REQUEST_TIMEOUT_SECONDS} s` }, 'in the bridge\'s error shape');
  t.equal((await syncOverHttp(h, port)).status, 200, 'and syncs keep answering after');
});

t.test('one client address holds at most MAX_CONNECTIONS_PER_CLIENT connections; other clients are served', async (t) => {
  const CAP = 20;
  const { h, port } = await listening(t, { MAX_CONNECTIONS_PER_CLIENT: String(CAP), REQUEST_TIMEOUT_SECONDS: '5' });
  // The attacker on another loopback address than the Talkdesk-style client below.
  const stalled = await Promise.all(Array.from({ length: 3 * CAP }, () => stall(port, h.config.SYNC_PATH, '127.0.0.2')));
  t.teardown(() => stalled.forEach((s) => s.socket.destroy()));

  const refused = await within(
    Promise.all(stalled.map(async (s, i) => ({ i, closed: await Promise.race([s.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000))]) }))),
    CLOSED_WITHIN_MS,
    'the connections over the cap are closed',
  );
  const open = refused.filter((r) => !r.closed).length;
  t.equal(open, CAP, `${CAP} of ${3 * CAP} connections stay open; the rest were closed at once`);

  const sync = await syncOverHttp(h, port);
  t.equal(sync.status, 200, 'another client is served meanwhile');

  // Once the request timeout closed the attacker's connections, the address may connect again.
  await within(Promise.all(stalled.map((s) => s.closed)), CLOSED_WITHIN_MS, 'the stalled connections time out');
  const again = await stall(port, h.config.SYNC_PATH, '127.0.0.2');
  t.teardown(() => again.socket.destroy());
  const closedAtOnce = await Promise.race([again.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
  t.equal(closedAtOnce, false, 'its budget is back once its connections are gone');
});

t.test('a proxy listed in TRUST_PROXY is not capped: its connections carry every client behind it', async (t) => {
  const CAP = 5;
  const { h, port } = await listening(t, { MAX_CONNECTIONS_PER_CLIENT: String(CAP), REQUEST_TIMEOUT_SECONDS: '5', TRUST_PROXY: '127.0.0.3' });
  const fromProxy = await Promise.all(Array.from({ length: 4 * CAP }, () => stall(port, h.config.SYNC_PATH, '127.0.0.3')));
  t.teardown(() => fromProxy.forEach((s) => s.socket.destroy()));
  const closed = await Promise.all(fromProxy.map((s) => Promise.race([s.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000))])));
  t.equal(closed.filter(Boolean).length, 0, `all ${4 * CAP} connections from the proxy stay open`);
});
