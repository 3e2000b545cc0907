import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lossConsistent, parsePing, qdiscCounters, quantile, quantileBand, summarize } from './measure.ts';
import { uint32Random } from './netem-model.ts';

const IPUTILS = `PING 172.18.0.4 (172.18.0.4) from 172.18.1.3 : 56(84) bytes of data.
64 bytes from 172.18.0.4: icmp_seq=1 ttl=64 time=8.41 ms
64 bytes from 172.18.0.4: icmp_seq=3 ttl=64 time=142 ms
64 bytes from 172.18.0.4: icmp_seq=2 ttl=64 time=0.912 ms

--- 172.18.0.4 ping statistics ---
4 packets transmitted, 3 received, 25% packet loss, time 61ms
rtt min/avg/max/mdev = 0.912/50.4/142/65.1 ms
`;

describe('measurements', () => {
  it('reads iputils ping in sequence order, in seconds', () => {
    const p = parsePing(IPUTILS);
    assert.equal(p.transmitted, 4);
    assert.equal(p.received, 3);
    assert.equal(p.seconds, 0.061);
    assert.deepEqual(p.roundTrips, [0.00841, 0.000912, 0.142]);
    assert.throws(() => parsePing('ping: connect: Network is unreachable'), /not iputils ping's output/);
  });

  it('quantiles interpolate between order statistics', () => {
    assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
    assert.equal(quantile([1, 2, 3], 0.99), 2.98);
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.deepEqual(summarize([1, 1, 1]), { n: 3, p50: 1, p90: 1, p99: 1, sd: 0 });
  });

  it('reads qdisc counters by handle', () => {
    const c = qdiscCounters([
      { kind: 'netem', handle: '102:', packets: 10, drops: 2 },
      { kind: 'htb', handle: 'ec:' },
    ]);
    assert.deepEqual(c.get('102:'), { packets: 10, drops: 2 });
    assert.deepEqual(c.get('ec:'), { packets: 0, drops: 0 });
  });

  it('judges a loss count against the binomial', () => {
    assert.ok(lossConsistent(50, 5000, 0.01).ok);
    assert.ok(!lossConsistent(5, 5000, 0.01).ok);
    assert.ok(!lossConsistent(120, 5000, 0.01).ok);
    assert.ok(lossConsistent(0, 5000, 0).ok);
  });

  it('a sampling band holds the quantile of n samples as often as it says', () => {
    const rnd = uint32Random(11);
    const dist = Array.from({ length: 10_000 }, () => (rnd() % 1000) / 1000);
    const band = quantileBand(dist, 60, 0.5, rnd, 0.99);
    assert.ok(band.low < 0.5 && band.high > 0.5 && band.high - band.low < 0.5);
    let inside = 0;
    for (let k = 0; k < 500; k++) {
      const q = quantile(
        Array.from({ length: 60 }, () => dist[rnd() % dist.length] as number),
        0.5,
      );
      if (q >= band.low && q <= band.high) inside++;
    }
    assert.ok(inside >= 480, `${inside} of 500`);
  });
});
