// Runs in a node's network namespace inside the netem VM, one per node for the whole run (starting Node under
// TCG costs seconds): a TCP sink that reports what each bulk transfer delivered, and, on request (one JSON
// object per stdin line), a bulk sender and a paced UDP sender. Answers are JSON lines on stdout.
//   {"id":1,"op":"bulk","to":"172.18.0.4","seconds":3}            → {"id":1,"event":"sent","bytes":…}
//   {"id":2,"op":"blast","to":"172.18.0.4","count":20000,"pps":4000,"size":64}  → {"id":2,"event":"blasted",…}
// and for every connection the sink took: {"event":"received","from":"…","bytes":…,"seconds":…}
import dgram from 'node:dgram';
import net from 'node:net';
import { lineReader } from '../protocol.ts';

export const SINK_PORT = 5201;
/** UDP datagrams go to the discard port: nothing listens, the kernel drops them after the qdisc counted them. */
export const BLAST_PORT = 9;

export type TrafficRequest =
  | { id: number; op: 'bulk'; to: string; seconds: number }
  | { id: number; op: 'blast'; to: string; count: number; pps: number; size: number };

export type TrafficReport =
  | { event: 'ready' }
  | { event: 'received'; from: string; bytes: number; seconds: number }
  | { id: number; event: 'sent'; bytes: number }
  | { id: number; event: 'blasted'; count: number; seconds: number }
  | { id: number; event: 'failed'; error: string };

function report(r: TrafficReport): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function sink(): net.Server {
  return net.createServer((socket) => {
    let bytes = 0;
    let first = 0n;
    let last = 0n;
    socket.on('data', (chunk: Buffer) => {
      last = process.hrtime.bigint();
      if (bytes === 0) first = last;
      bytes += chunk.length;
    });
    socket.on('end', () => {
      report({
        event: 'received',
        from: socket.remoteAddress ?? '',
        bytes,
        seconds: Number(last - first) / 1e9,
      });
      socket.end();
    });
    socket.on('error', () => socket.destroy());
  });
}

function bulk(req: Extract<TrafficRequest, { op: 'bulk' }>): void {
  const chunk = Buffer.alloc(64 * 1024);
  const socket = net.connect(SINK_PORT, req.to);
  let bytes = 0;
  let open = true;
  const pump = () => {
    while (open) {
      const more = socket.write(chunk);
      bytes += chunk.length;
      if (!more) return;
    }
  };
  socket.on('connect', () => {
    setTimeout(() => {
      open = false;
      socket.end();
    }, req.seconds * 1000);
    pump();
  });
  socket.on('drain', pump);
  socket.on('close', () => report({ id: req.id, event: 'sent', bytes }));
  socket.on('error', (err) => report({ id: req.id, event: 'failed', error: err.message }));
}

function blast(req: Extract<TrafficRequest, { op: 'blast' }>): void {
  const socket = dgram.createSocket('udp4');
  const payload = Buffer.alloc(req.size);
  const started = process.hrtime.bigint();
  let sent = 0;
  // Paced in 10 ms batches, so netem's queue (sized for the path's rate) holds them: its own drops would count
  // as loss.
  const perTick = Math.max(1, Math.round(req.pps / 100));
  let done = 0;
  let delivered = 0;
  const finished = () => {
    if (sent < req.count || done < sent) return;
    socket.close(() =>
      report({
        id: req.id,
        event: 'blasted',
        count: delivered,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      }),
    );
  };
  // Closed only once every send has completed (closing earlier drops what is still queued); `count` is what
  // the kernel took.
  const sentOne = (err: Error | null) => {
    done++;
    if (!err) delivered++;
    finished();
  };
  const timer = setInterval(() => {
    for (let i = 0; i < perTick && sent < req.count; i++, sent++)
      socket.send(payload, BLAST_PORT, req.to, sentOne);
    if (sent >= req.count) clearInterval(timer);
  }, 10);
}

if (import.meta.main) {
  const server = sink();
  server.listen(SINK_PORT, '0.0.0.0', () => report({ event: 'ready' }));
  process.stdin.on(
    'data',
    lineReader((line) => {
      const req = JSON.parse(line) as TrafficRequest;
      if (req.op === 'bulk') bulk(req);
      else if (req.op === 'blast') blast(req);
    }),
  );
  process.stdin.on('end', () => process.exit(0));
}
