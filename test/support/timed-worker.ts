// A stand-in for the inspect worker whose jobs take a known time: a job's `width` is how many milliseconds it
// computes (a busy loop, as detection is). It answers with when it started and ended (epoch milliseconds), so
// a test can see how many jobs ran at once.
export default function timedJob(job: { width?: number }): {
  ok: true;
  inspection: { startedAt: number; endedAt: number };
  pixels: number;
} {
  const startedAt = performance.timeOrigin + performance.now();
  const until = performance.now() + (job.width ?? 0);
  while (performance.now() < until) {
    // compute
  }
  return {
    ok: true,
    inspection: { startedAt, endedAt: performance.timeOrigin + performance.now() },
    pixels: 0,
  };
}
