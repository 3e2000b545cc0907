// Round trips timed by the kernel instead of by the load generator's event loop. A generator that sleeps
// between requests is itself woken late now and then (on the 2-vCPU VM the benchmarks ran on, a sleeping thread
// is woken > 1 ms late about once a second), and that lands on whatever it is timing: more often on a
// response that comes 10 ms after the request than on one that comes 60 µs after, so it counts against
// any emulator. A packet capture on loopback stamps each packet when the kernel hands it over, whoever is
// awake: the round trip is the request packet's stamp to the response packet's.
//
// tcpdump writes the capture (it needs root or CAP_NET_RAW, and the binary); parsing and pairing are pure.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP segment with payload, as seen on loopback. */
export interface Segment {
  /** Capture time, ns (pcap nanosecond stamps; relative, so a double is exact enough). */
  tsNs: number;
  srcPort: number;
  dstPort: number;
  payloadLength: number;
  /** The payload's first byte (the bench marks warm-up and measured requests with different bytes). */
  firstByte: number;
}

const PCAP_NS_MAGIC = 0xa1b23c4d;
const PCAP_US_MAGIC = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1; // Linux loopback
const LINKTYPE_LINUX_SLL = 113; // "any"
const LINKTYPE_RAW = 101;

/** Parses a little-endian pcap file (as tcpdump writes it on x86/arm) into its IPv4 TCP segments with payload. Pure. */
export function parsePcap(buf: Buffer): Segment[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  if (magic !== PCAP_NS_MAGIC && magic !== PCAP_US_MAGIC)
    throw new Error(`not a little-endian pcap file (magic 0x${magic.toString(16)})`);
  const subsecondNs = magic === PCAP_NS_MAGIC ? 1 : 1000;
  const linkType = buf.readUInt32LE(20) & 0x0fffffff;
  const linkHeader =
    linkType === LINKTYPE_ETHERNET
      ? 14
      : linkType === LINKTYPE_LINUX_SLL
        ? 16
        : linkType === LINKTYPE_RAW
          ? 0
          : -1;
  if (linkHeader < 0) throw new Error(`pcap link type ${linkType} is not handled`);
  const out: Segment[] = [];
  let firstSec: number | undefined;
  for (let off = 24; off + 16 <= buf.length; ) {
    const sec = buf.readUInt32LE(off);
    const sub = buf.readUInt32LE(off + 4);
    const caplen = buf.readUInt32LE(off + 8);
    const pkt = off + 16;
    off = pkt + caplen;
    if (off > buf.length) break; // a record cut short by the capture's end
    firstSec ??= sec;
    const ip = pkt + linkHeader;
    if (linkType === LINKTYPE_ETHERNET && buf.readUInt16BE(pkt + 12) !== 0x0800) continue;
    if (linkType === LINKTYPE_LINUX_SLL && buf.readUInt16BE(pkt + 14) !== 0x0800) continue;
    if (ip + 20 > off || buf[ip] === undefined || (buf[ip] as number) >> 4 !== 4) continue;
    const ihl = ((buf[ip] as number) & 0x0f) * 4;
    if (buf[ip + 9] !== 6) continue; // not TCP
    const ipTotal = buf.readUInt16BE(ip + 2);
    const tcp = ip + ihl;
    if (tcp + 20 > off) continue;
    const tcpHeader = ((buf[tcp + 12] as number) >> 4) * 4;
    const payloadLength = ipTotal - ihl - tcpHeader;
    if (payloadLength <= 0) continue;
    const payload = tcp + tcpHeader;
    out.push({
      tsNs: (sec - firstSec) * 1e9 + sub * subsecondNs,
      srcPort: buf.readUInt16BE(tcp),
      dstPort: buf.readUInt16BE(tcp + 2),
      payloadLength,
      firstByte: payload < off ? (buf[payload] as number) : -1,
    });
  }
  return out;
}

/**
 * Round trips (ms) to `serverPort` from the client ports in `clients` (the generator's own connections; an
 * emulator's upstream connections to the same server are not its round trips): on each connection, a request
 * segment whose payload starts with `marker` is paired with the next segment the server sends back on it.
 * Requests without an answer in the capture are left out. Pure.
 */
export function roundTrips(
  segments: readonly Segment[],
  serverPort: number,
  marker: number,
  clients: ReadonlySet<number>,
): number[] {
  const waiting = new Map<number, number>(); // client port -> request stamp
  const out: number[] = [];
  for (const s of segments) {
    if (s.dstPort === serverPort) {
      if (clients.has(s.srcPort) && s.firstByte === marker && !waiting.has(s.srcPort))
        waiting.set(s.srcPort, s.tsNs);
    } else if (s.srcPort === serverPort) {
      const t0 = waiting.get(s.dstPort);
      if (t0 !== undefined) {
        out.push((s.tsNs - t0) / 1e6);
        waiting.delete(s.dstPort);
      }
    }
  }
  return out;
}

/** Whether tcpdump can capture on loopback here (the binary, and the privilege to open the device). */
export function captureAvailable(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync('tcpdump', ['-i', 'lo', '-c', '1', '-w', '/dev/null', 'tcp port 9'], { timeout: 3000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT')
    return { ok: false, why: 'no tcpdump binary (apt install tcpdump)' };
  const err = String(r.stderr ?? '');
  if (/permission|not permitted|You don't have permission/i.test(err))
    return { ok: false, why: 'tcpdump may not capture here (needs root or CAP_NET_RAW)' };
  // It timed out waiting for a packet on port 9, which is what a working capture does.
  return { ok: true };
}

/**
 * A running capture of TCP traffic to and from `ports` on loopback; stop() returns its segments. The kernel hands
 * packets to tcpdump in blocks, at the latest every second (tcpdump's default timeout; immediate mode would wake
 * it for every packet, on the same cores as what is measured), so stop() waits that long before asking it to
 * flush and exit: start one capture for a whole stretch of measurements, not one per request burst.
 */
export async function startCapture(ports: readonly number[]): Promise<{ stop(): Promise<Segment[]> }> {
  const file = join(tmpdir(), `mec-fidelity-${process.pid}-${Date.now()}.pcap`);
  const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
  const args = [
    '-i',
    'lo',
    '-n',
    '-s',
    '96',
    '-B',
    '16384',
    '--time-stamp-precision=nano',
    '-w',
    file,
    filter,
  ];
  const child: ChildProcess = spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill(); // not left capturing behind a failed run
      reject(new Error(`tcpdump did not start: ${stderr}`));
    }, 5000);
    child.stderr?.on('data', (d) => {
      stderr += d;
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${code}): ${stderr}`));
    });
  });
  return {
    async stop() {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT'); // flushes what it buffered, then exits
      await exited;
      try {
        return parsePcap(readFileSync(file));
      } finally {
        rmSync(file, { force: true });
      }
    },
  };
}
