// Seeded random numbers for whatever must be replayable: the link proxy's jitter draws (SEED) and the inspect
// workload's synthetic images (the same seed gives the same image everywhere). Not for anything secret.

/** A uniform draw in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast and good enough for delay draws and test images; seeded so a run can be replayed. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
