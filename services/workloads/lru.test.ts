import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ByteLru } from './lru.ts';

const bytes = (n: number) => Buffer.alloc(n);

describe('ByteLru', () => {
  it('evicts the least recently used entries when the byte bound is passed', () => {
    const lru = new ByteLru<Buffer>(100);
    lru.set('a', bytes(40));
    lru.set('b', bytes(40));
    assert.ok(lru.get('a'), 'a is now the most recently used');
    lru.set('c', bytes(40)); // 120 > 100: evict b (least recently used), not a
    assert.deepEqual(lru.keys(), ['a', 'c']);
    assert.equal(lru.bytes, 80);
    assert.equal(lru.evictions, 1);
    assert.equal(lru.has('b'), false);
  });

  it('evicts as many entries as needed for one large value', () => {
    const lru = new ByteLru<Buffer>(100);
    for (const key of ['a', 'b', 'c', 'd']) lru.set(key, bytes(25));
    lru.set('big', bytes(90));
    assert.deepEqual(lru.keys(), ['big']);
    assert.equal(lru.bytes, 90);
    assert.equal(lru.evictions, 4);
  });

  it('refuses a value larger than the whole cache without evicting anything', () => {
    const lru = new ByteLru<Buffer>(100);
    lru.set('a', bytes(50));
    assert.equal(lru.set('huge', bytes(101)), false);
    assert.deepEqual(lru.keys(), ['a']);
    assert.equal(lru.bytes, 50);
  });

  it('replacing a key updates the byte count', () => {
    const lru = new ByteLru<Buffer>(100);
    lru.set('a', bytes(50));
    lru.set('a', bytes(10));
    assert.equal(lru.bytes, 10);
    assert.equal(lru.size, 1);
    assert.ok(lru.delete('a'));
    assert.equal(lru.bytes, 0);
  });

  it('a zero-byte cache stores nothing', () => {
    const lru = new ByteLru<Buffer>(0);
    assert.equal(lru.set('a', bytes(1)), false);
    assert.equal(lru.get('a'), undefined);
  });

  it('never exceeds its bound over a random workload', () => {
    const lru = new ByteLru<Buffer>(1000);
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      const key = `k${Math.floor(random() * 50)}`;
      if (random() < 0.5) lru.get(key);
      else lru.set(key, bytes(Math.floor(random() * 300)));
      assert.ok(lru.bytes <= 1000);
      assert.equal(
        lru.bytes,
        lru.keys().reduce((sum, k) => sum + (lru.get(k)?.byteLength ?? 0), 0),
      );
    }
  });
});
