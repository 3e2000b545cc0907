// A least-recently-used cache bounded by the bytes of its values (not their count): media segments and golden
// reference images differ in size by orders of magnitude, so a count bound would not bound memory.

export class ByteLru<V extends { byteLength: number }> {
  readonly maxBytes: number;
  #bytes = 0;
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used entry first.
  readonly #entries = new Map<string, V>();
  #evictions = 0;

  constructor(maxBytes: number) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new RangeError(`maxBytes must be >= 0, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key);
    if (value === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** Stores `value` and evicts the least recently used entries until the bound holds. Returns false (and
   * stores nothing) when the value alone is larger than the whole cache. */
  set(key: string, value: V): boolean {
    this.delete(key);
    if (value.byteLength > this.maxBytes) return false;
    this.#entries.set(key, value);
    this.#bytes += value.byteLength;
    for (const [oldKey, oldValue] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldKey);
      this.#bytes -= oldValue.byteLength;
      this.#evictions++;
    }
    return true;
  }

  delete(key: string): boolean {
    const value = this.#entries.get(key);
    if (value === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= value.byteLength;
    return true;
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }
}
