// A TCP relay inside the netem VM: `node relay.ts LISTEN TARGET`, each `host:port` or `unix:/path`. Two of them
// put the host's kube-apiserver at the control-plane node's address, as on kind: one in the VM's own namespace
// (the only one that reaches qemu's user network) from a Unix socket to 10.0.2.2:<port>, one in the
// control-plane node's namespace from <its IP>:6443 to that socket (a socket file crosses namespaces).
import net from 'node:net';

export function endpoint(spec: string): { path: string } | { host: string; port: number } {
  if (spec.startsWith('unix:')) return { path: spec.slice('unix:'.length) };
  const at = spec.lastIndexOf(':');
  const port = Number(spec.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`relay: "${spec}" is neither host:port nor unix:/path`);
  return { host: spec.slice(0, at), port };
}

export function relay(listen: string, target: string): net.Server {
  const to = endpoint(target);
  const server = net.createServer((client) => {
    const upstream = net.connect(to);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  const from = endpoint(listen);
  if ('path' in from) server.listen(from.path);
  else server.listen(from.port, from.host);
  server.on('listening', () => process.stdout.write(`relay: ${listen} -> ${target}\n`));
  return server;
}

if (import.meta.main) {
  const [listen, target] = process.argv.slice(2);
  if (!listen || !target) {
    process.stderr.write('usage: relay.ts LISTEN TARGET (host:port or unix:/path)\n');
    process.exit(2);
  }
  relay(listen, target).on('error', (err) => {
    process.stderr.write(`relay: ${err.message}\n`);
    process.exit(1);
  });
}
