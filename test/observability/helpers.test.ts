// The CI proof's own pure parts: the k6-shaped remote-write encoding and the picture's formatting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bucketIndex,
  encodeWriteRequest,
  NativeHistogram,
  snappyLiteral,
  ZERO_THRESHOLD,
} from './k6-remote-write.ts';
import { chartSvg, formatValue, legend } from './picture.ts';

describe('k6-shaped remote write', () => {
  it('puts values in schema-3 buckets (2^((i-1)/8), 2^(i/8)]', () => {
    assert.equal(bucketIndex(1), 0);
    assert.equal(bucketIndex(2 ** (1 / 8)), 1);
    assert.equal(bucketIndex(1.01), 1);
    assert.equal(bucketIndex(0.5), -8);
    // 12 ms lies in bucket -51: (2^(-52/8), 2^(-51/8)] = (11.05 ms, 12.05 ms].
    assert.equal(bucketIndex(0.012), -51);
  });

  it('encodes buckets as spans and deltas the way client_golang does', () => {
    const h = new NativeHistogram();
    for (const v of [1, 1, 1.01, 2 ** (3 / 8), 0]) h.observe(v);
    assert.equal(h.count, 5);
    assert.equal(h.zeroCount, 1, `0 is below the zero threshold ${ZERO_THRESHOLD}`);
    // Buckets 0 (2), 1 (1), 3 (1): spans [offset 0, length 2], [offset 1, length 1]; deltas 2, -1, 0.
    assert.deepEqual(h.spansAndDeltas(), {
      spans: [
        { offset: 0, length: 2 },
        { offset: 1, length: 1 },
      ],
      deltas: [2, -1, 0],
    });
  });

  it('frames a snappy block of literals with the uncompressed length first', () => {
    const data = Buffer.from('x'.repeat(300));
    const framed = snappyLiteral(data);
    // varint 300 = 0xac 0x02, then a literal tag for 300 bytes (61 << 2 with a 2-byte length-1).
    assert.deepEqual([...framed.subarray(0, 5)], [0xac, 0x02, 61 << 2, 299 & 0xff, 299 >> 8]);
    assert.equal(framed.length, 5 + 300);
  });

  it('writes sorted labels with __name__ and drops empty tags', () => {
    const pb = encodeWriteRequest(
      [{ name: 'k6_http_reqs_total', tags: { site: 'edge', group: '' }, sample: 3 }],
      1000,
    );
    const text = pb.toString('latin1');
    assert.ok(text.indexOf('__name__') < text.indexOf('site'), 'labels sorted');
    assert.ok(!text.includes('group'), 'empty tag dropped');
  });
});

describe('picture', () => {
  it('templates legends like Grafana and formats units', () => {
    assert.equal(legend('{{site}} p50', { site: 'edge' }), 'edge p50');
    assert.equal(legend('{{ target_site }} measured', { target_site: 'cloud' }), 'cloud measured');
    assert.equal(formatValue(0.0123, 'seconds'), '12 ms');
    assert.equal(formatValue(0.0042, 'seconds'), '4.2 ms');
    assert.equal(formatValue(0.6, 'ratio'), '60%');
  });

  it('draws lines, and says "No data" for an empty panel', () => {
    const svg = chartSvg(
      {
        title: 'a <b>',
        unit: 'seconds',
        lines: [
          {
            label: 'edge p50',
            points: [
              [0, 0.01],
              [10, 0.012],
            ],
          },
        ],
      },
      0,
      0,
    );
    assert.match(svg, /<path d="M/);
    assert.match(svg, /a &lt;b&gt;/);
    assert.match(chartSvg({ title: 'x', unit: 'ratio', lines: [] }, 0, 0), /No data/);
  });
});
