// Free loopback ports for tests and benchmarks that start several servers at once. The ports are found by
// listening on port 0 together (so the kernel hands out distinct ones) and closed before use; tests run one
// file at a time, so the short window before the real servers bind is not contended.
import net from 'node:net';

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = net.createServer();
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
