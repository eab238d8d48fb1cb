import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpFaultProxy } from '../harness/fault-proxy/tcp-fault-proxy.js';

/** An echo server that also counts the bytes it received, to tell "held" from "lost". */
async function echoServer(t: Test) {
  const state = { received: 0, reading: true };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    if (!state.reading) s.pause();
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.on('data', (chunk) => {
      state.received += chunk.length;
      s.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    state,
    /** Stops or restarts reading on every connection (a server too busy to read). */
    setReading(on: boolean) {
      state.reading = on;
      for (const s of sockets) if (on) s.resume(); else s.pause();
    },
  };
}

async function startProxy(t: Test, port: number) {
  const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port });
  t.teardown(() => proxy.close());
  return proxy;
}

/** A client that collects what it reads and how it ended. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const seen = { data: '', error: undefined as NodeJS.ErrnoException | undefined, closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => (seen.data += d));
  socket.on('error', (err) => (seen.error = err));
  // Not events.once: it rejects on 'error', and a reset is what some of these tests expect.
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve(void (seen.closed = true))));
  const connected = new Promise<void>((resolve) => socket.on('connect', () => resolve()));
  await Promise.race([connected, closed]);
  return { socket, seen, closed };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

t.test('up: bytes go both ways; rewrite() points a URL at the proxy and keeps the rest of it', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startProxy(t, echo.port);
  const c = await connect(proxy.port);
  c.socket.write('hello');
  await until('the echo', () => c.seen.data === 'hello');
  c.socket.destroy();

  t.equal(
    proxy.rewrite('postgres://bridge:s3cret@db.internal:5432/cb_test_1?sslmode=disable'),
    `postgres://bridge:s3cret@127.0.0.1:${proxy.port}/cb_test_1?sslmode=disable`,
  );
  t.equal(proxy.rewrite('redis://127.0.0.1:6379'), `redis://127.0.0.1:${proxy.port}`);
  t.equal(proxy.connectionsAccepted, 1);
});

t.test('refuse: open connections are reset, new ones refused; up again on the same port', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startProxy(t, echo.port);
  const open = await connect(proxy.port);
  open.socket.write('a');
  await until('the echo', () => open.seen.data === 'a');

  await proxy.setMode('refuse');
  await open.closed;
  t.equal(open.seen.error?.code, 'ECONNRESET', 'an open connection is reset, as when the server goes away');

  const refused = await connect(proxy.port);
  await refused.closed;
  t.equal(refused.seen.error?.code, 'ECONNREFUSED', 'a new connection is refused');

  await proxy.setMode('up');
  const again = await connect(proxy.port);
  again.socket.write('b');
  await until('the echo after recovery', () => again.seen.data === 'b');
  again.socket.destroy();
  t.equal(proxy.mode, 'up');
});

t.test('blackhole: connections are accepted but nothing passes; up delivers what was held', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startProxy(t, echo.port);
  const open = await connect(proxy.port);
  open.socket.write('x');
  await until('the echo', () => open.seen.data === 'x');

  await proxy.setMode('blackhole');
  // More than a socket's buffers can hold, so forwarding would have hit back-pressure and 'drain'.
  const big = 'y'.repeat(4 * 1024 * 1024);
  open.socket.write(big);
  const fresh = await connect(proxy.port);
  t.notOk(fresh.seen.error, 'a new connection is accepted: only the client’s own timeout ends its wait');
  fresh.socket.write('z');
  await sleep(300);
  t.equal(echo.state.received, 1, 'no byte reached the server during the blackhole');
  t.equal(open.seen.data, 'x', 'and none came back');
  t.notOk(open.seen.closed, 'the open connection is held, not closed');

  await proxy.setMode('up');
  await until('the held bytes are delivered and echoed', () => open.seen.data.length === 1 + big.length);
  t.equal(open.seen.data, 'x' + big);
  await fresh.closed;
  t.pass('a connection accepted during the blackhole is reset rather than connected mid-conversation');
  open.socket.destroy();
});

// Regression: with pipe(), a source paused by back-pressure was resumed on the destination's
// 'drain' even during a blackhole, so a server that caught up let the client's bytes through.
t.test('blackhole: a server catching up on back-pressure does not open the hole', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startProxy(t, echo.port);
  const open = await connect(proxy.port);
  echo.setReading(false);
  // Far more than the kernel's and the proxy's buffers hold, so the proxy is held back.
  const big = 'w'.repeat(64 * 1024 * 1024);
  open.socket.write(big);
  await sleep(300);
  await proxy.setMode('blackhole');
  echo.setReading(true);
  await sleep(500);
  t.ok(echo.state.received < big.length / 2, `only what was already on its way arrived (${echo.state.received} bytes)`);
  open.socket.destroy();
});

t.test('close() ends every connection and frees the port', async (t) => {
  const echo = await echoServer(t);
  const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port: echo.port });
  const open = await connect(proxy.port);
  await proxy.close();
  await open.closed;
  const after = await connect(proxy.port);
  await after.closed;
  t.equal(after.seen.error?.code, 'ECONNREFUSED');
});
