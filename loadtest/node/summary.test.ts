import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PREDICTIONS } from '../lib/predictions.gen.ts';
import {
  buildReport,
  formatReport,
  type K6Summary,
  parseMetricName,
  reduction,
  summaryOutputs,
} from '../lib/summary.ts';

// A mixed run's end-of-test summary in k6's handleSummary format (k6 summarizeMetricsToObject: root_group,
// options, state, metrics with type/contains/values/thresholds; trend values in ms), 12/6/2 req/s per site.
const recorded = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'k6-summary.json'), 'utf8'),
) as K6Summary;
const prediction = PREDICTIONS['5g-mec'] ?? null;

const close = (a: number | undefined, b: number, eps = 1e-9) =>
  assert.ok(a !== undefined && Math.abs(a - b) < eps, `${a} is not ${b}`);

describe('k6 summary → edge-vs-cloud reduction', () => {
  it('parses sub-metric names', () => {
    assert.deepEqual(parseMetricName('http_req_duration{site:edge,workload:echo}'), {
      metric: 'http_req_duration',
      tags: { site: 'edge', workload: 'echo' },
    });
    assert.deepEqual(parseMetricName('http_reqs'), { metric: 'http_reqs', tags: {} });
  });

  it('computes 1 - edge/cloud, and nothing without a cloud figure', () => {
    close(reduction(12, 30), 0.6);
    assert.equal(reduction(12, undefined), undefined);
    assert.equal(reduction(12, 0), undefined);
  });

  it('reports every workload and percentile of the recorded run', () => {
    const report = buildReport(recorded, prediction);
    assert.deepEqual(
      report.workloads.map((w) => w.workload),
      ['echo', 'inspect', 'media'],
    );
    const echo = report.workloads[0];
    assert.ok(echo);
    close(echo.reduction['p(50)'], 1 - 12.913 / 31.207);
    close(echo.reduction['p(99)'], 1 - 19.402 / 38.015);
    assert.equal(echo.edge.requests, 720);
    // The smaller edge computes inspect more slowly: a negative reduction, shown as such.
    const inspect = report.workloads.find((w) => w.workload === 'inspect');
    assert.ok(inspect && (inspect.reduction['p(50)'] ?? 0) < 0);
    const media = report.workloads.find((w) => w.workload === 'media');
    close(media?.cloud.failedRatio, 1 / 360);
    assert.equal(report.profile, '5g-mec');
    assert.equal(report.predictedReduction, 0.6);
    close(report.durationSeconds, 60.0124821);
  });

  it('collects thresholds and whether they passed', () => {
    const report = buildReport(recorded, prediction);
    assert.ok(report.passed);
    assert.ok(
      report.thresholds.some(
        (t) => t.metric === 'http_req_duration{site:edge,workload:echo}' && t.threshold === 'p(50)<21',
      ),
    );
    const failing: K6Summary = structuredClone(recorded);
    const m = failing.metrics['http_req_duration{site:cloud,workload:echo}'];
    assert.ok(m?.thresholds);
    m.thresholds['p(50)>21'] = { ok: false };
    const failed = buildReport(failing, prediction);
    assert.equal(failed.passed, false);
    assert.match(formatReport(failed), /FAIL http_req_duration\{site:cloud,workload:echo\} p\(50\)>21/);
  });

  it('formats a readable table with the reduction per workload and percentile', () => {
    const text = formatReport(buildReport(recorded, prediction));
    assert.match(text, /profile 5g-mec, 60 s, predicted round-trip reduction 60\.0%/);
    assert.match(text, /^echo\s+p50\s+12\.9 ms\s+31\.2 ms\s+58\.6%$/m);
    assert.match(text, /^\s+p99\s+19\.4 ms\s+38\.0 ms\s+49\.0%$/m);
    assert.match(text, /^inspect\s+p50\s+58\.3 ms\s+52\.1 ms\s+-11\.9%$/m);
    assert.match(text, /failed\s+0\.0% of 720\s+0\.0% of 720/);
    assert.match(text, /all thresholds passed/);
  });

  it('handleSummary writes the table to stdout and JSON + text files to MEC_SUMMARY_DIR', () => {
    const out = summaryOutputs(recorded, prediction, '/results');
    assert.deepEqual(Object.keys(out).sort(), ['/results/summary.json', '/results/summary.txt', 'stdout']);
    assert.equal(out.stdout, out['/results/summary.txt']);
    const json = JSON.parse(out['/results/summary.json'] ?? '{}');
    assert.equal(json.report.workloads.length, 3);
    assert.deepEqual(json.k6.metrics.vus, recorded.metrics.vus);
  });

  it('says so when the summary has no edge/cloud pairs', () => {
    const text = formatReport(buildReport({ metrics: {} }, null));
    assert.match(text, /no edge\/cloud pairs/);
  });
});
