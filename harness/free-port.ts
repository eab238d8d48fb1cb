import net from 'node:net';

/**
 * A loopback port free at the moment of asking, for an address that must be known before the
 * server listens (a PUBLIC_URL the CRM's webhooks and redirects point at). Another process may
 * take it in between; on a test machine that has not been a problem.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
