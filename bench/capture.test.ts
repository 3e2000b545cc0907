// The fidelity bench's kernel-timed round trips: the pcap parser and the request/response pairing, on a
// capture built byte by byte here (tcpdump itself only runs in the benchmark).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePcap, roundTrips, type Segment } from './capture.ts';

/** One loopback (Ethernet-framed) IPv4 TCP packet with `payload` bytes, stamped `sec`.`ns`. */
function record(
  sec: number,
  ns: number,
  src: number,
  dst: number,
  payload: Buffer,
  ethertype = 0x0800,
): Buffer {
  const tcp = Buffer.alloc(32); // 20 bytes + 12 of options (timestamps), as Linux sends
  tcp.writeUInt16BE(src, 0);
  tcp.writeUInt16BE(dst, 2);
  tcp[12] = (32 / 4) << 4;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 32 + payload.length, 2);
  ip[9] = 6;
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(ethertype, 12);
  const frame = Buffer.concat([eth, ip, tcp, payload]);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(sec, 0);
  head.writeUInt32LE(ns, 4);
  head.writeUInt32LE(frame.length, 8);
  head.writeUInt32LE(frame.length, 12);
  return Buffer.concat([head, frame]);
}

function pcap(records: Buffer[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b23c4d, 0); // nanosecond stamps
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(65535, 16);
  head.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  return Buffer.concat([head, ...records]);
}

const b = (n: number, byte: number) => Buffer.alloc(n, byte);

describe('kernel-timed round trips (bench/capture.ts)', () => {
  it('parses payload segments with nanosecond stamps and skips bare ACKs and non-IPv4 frames', () => {
    const segs = parsePcap(
      pcap([
        record(100, 5, 40000, 8081, b(64, 98)),
        record(100, 9_000, 8081, 40000, b(0, 0)), // an ACK
        record(100, 10, 40000, 8081, b(8, 1), 0x86dd), // IPv6: not ours
        record(101, 250_000_000, 8081, 40000, b(64, 98)),
      ]),
    );
    assert.deepEqual(segs, [
      { tsNs: 5, srcPort: 40000, dstPort: 8081, payloadLength: 64, firstByte: 98 },
      { tsNs: 1_250_000_000, srcPort: 8081, dstPort: 40000, payloadLength: 64, firstByte: 98 },
    ] satisfies Segment[]);
  });

  it('refuses what is not a pcap file and ignores a record cut short', () => {
    assert.throws(() => parsePcap(Buffer.alloc(24, 1)), /not a little-endian pcap/);
    const whole = pcap([record(1, 0, 1, 2, b(10, 98))]);
    assert.equal(parsePcap(whole.subarray(0, whole.length - 3)).length, 0);
  });

  it('pairs each marked request with the next answer on its connection, per connection', () => {
    const seg = (tsNs: number, srcPort: number, dstPort: number, firstByte = 98): Segment => ({
      tsNs,
      srcPort,
      dstPort,
      payloadLength: 64,
      firstByte,
    });
    const rtts = roundTrips(
      [
        seg(0, 50001, 8081, 97), // warm-up request: not measured
        seg(1_000_000, 8081, 50001), // its answer
        seg(2_000_000, 50001, 8081), // measured, connection 1
        seg(2_500_000, 50002, 8081), // measured, connection 2
        seg(3_000_000, 9999, 8081), // to the server from a connection never answered: left out
        seg(3_100_000, 50003, 8081), // an emulator's upstream connection, not the generator's: left out
        seg(3_200_000, 8081, 50003),
        seg(12_500_000, 8081, 50002), // answer on connection 2 first
        seg(12_000_000 + 100_000, 8081, 50001),
      ],
      8081,
      98,
      new Set([50001, 50002, 9999]),
    );
    assert.deepEqual(rtts, [10, 10.1]);
  });
});
