import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { allDashboards } from './dashboards.ts';
import { DATASOURCE } from './factory.ts';
import { feedOf, metricNames, panelQueries, substitute } from './queries.ts';

const root = join(import.meta.dirname, '..', '..');
const committed = (file: string) => readFileSync(join(root, 'grafana', 'dashboards', file), 'utf8');

/** Series the services, proxy, agent, blackbox exporter and k6 export (team contract), which panels may read raw. */
const RAW_METRICS = new Set([
  'mec_link_profile_info',
  'mec_link_configured_latency_seconds',
  'mec_link_configured_jitter_seconds',
  'mec_link_configured_loss_ratio',
  'mec_link_proxy_bytes_total',
  'mec_link_proxy_added_delay_seconds_bucket',
  'mec_link_proxy_connections_total',
  'mec_link_proxy_late_releases_total',
  'mec_link_proxy_release_lateness_seconds_count',
  'mec_link_netem_available',
  'mec_link_netem_drops_total',
  'mec_link_agent_last_apply_timestamp_seconds',
  'mec_link_agent_apply_errors_total',
  'probe_http_duration_seconds',
]);

function recordedRules(): Set<string> {
  const doc = parse(
    readFileSync(join(root, 'k8s/base/prometheus/rules/mec-recording.rules.yml'), 'utf8'),
  ) as {
    groups: Array<{ rules: Array<{ record?: string }> }>;
  };
  return new Set(doc.groups.flatMap((g) => g.rules.map((r) => r.record ?? '')).filter(Boolean));
}

interface PanelJson {
  type: string;
  title: string;
  description?: string;
  datasource?: unknown;
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ refId: string; expr?: string; legendFormat?: string; datasource?: unknown }>;
  gridPos: { x: number; y: number; w: number; h: number };
}

describe('generated dashboards', () => {
  const dashboards = allDashboards();

  for (const file of Object.keys(dashboards)) {
    it(`${file}: every panel has a title, description, unit, our datasource and named queries`, () => {
      const json = JSON.parse(committed(file));
      assert.ok(json.uid && json.title, 'uid and title');
      const panels = (json.panels as PanelJson[]).filter((p) => p.type !== 'row');
      assert.ok(panels.length >= 3, 'has panels');
      for (const p of panels) {
        const at = `${file} panel "${p.title}"`;
        assert.ok(p.title, `${at}: title`);
        assert.ok(typeof p.description === 'string' && p.description.length > 20, `${at}: description`);
        assert.deepEqual(p.datasource, DATASOURCE, `${at}: datasource`);
        assert.ok(p.fieldConfig?.defaults?.unit, `${at}: unit`);
        const targets = p.targets ?? [];
        assert.ok(targets.length > 0, `${at}: queries`);
        const refIds = targets.map((t) => t.refId);
        assert.equal(new Set(refIds).size, refIds.length, `${at}: refIds unique`);
        for (const t of targets) {
          assert.ok(t.expr?.trim(), `${at}: expr`);
          assert.ok(t.legendFormat?.trim(), `${at}: legend`);
          assert.deepEqual(t.datasource, DATASOURCE, `${at}: target datasource`);
        }
        const { x, y, w, h } = p.gridPos;
        assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${at}: gridPos inside 24 columns`);
      }
      // No two panels overlap on the grid.
      for (const [i, a] of panels.entries()) {
        for (const b of panels.slice(i + 1)) {
          const overlap =
            a.gridPos.x < b.gridPos.x + b.gridPos.w &&
            b.gridPos.x < a.gridPos.x + a.gridPos.w &&
            a.gridPos.y < b.gridPos.y + b.gridPos.h &&
            b.gridPos.y < a.gridPos.y + a.gridPos.h;
          assert.ok(!overlap, `${file}: "${a.title}" overlaps "${b.title}"`);
        }
      }
    });

    it(`${file}: queries read only recording rules or contract metrics, and only known variables`, () => {
      const json = JSON.parse(committed(file));
      const rules = recordedRules();
      const variables = Object.fromEntries(
        (json.templating?.list ?? []).map((v: { name: string; current: { value: string } }) => [
          v.name,
          v.current.value,
        ]),
      );
      for (const q of panelQueries(json)) {
        const expr = substitute(q.expr, variables);
        for (const name of metricNames(expr)) {
          assert.ok(
            rules.has(name) || RAW_METRICS.has(name),
            `${file} "${q.panel}" ${q.refId} reads ${name}, which is neither a recording rule nor a contract metric`,
          );
        }
        const depth = [...expr].reduce((d, c) => (d < 0 ? d : d + (c === '(' ? 1 : c === ')' ? -1 : 0)), 0);
        assert.equal(depth, 0, `${file} "${q.panel}": unbalanced parentheses in ${expr}`);
      }
    });
  }

  it('every raw metric a panel reads is exported by a component (services, link proxy, link agent)', () => {
    const exporters = [
      'services/skeleton/metrics.ts',
      'services/link-proxy/metrics.ts',
      'services/link-agent/metrics.ts',
      'services/topology/link-gauges.ts', // the configured-link gauges both backends share
    ]
      .map((f) => readFileSync(join(root, f), 'utf8'))
      .join('\n');
    for (const name of RAW_METRICS) {
      if (name.startsWith('probe_')) continue; // the blackbox exporter's own
      const base = name.replace(/_(bucket|count|sum)$/, '');
      assert.ok(
        exporters.includes(`'${base}'`),
        `${name} is read by a panel but no component exports ${base}`,
      );
    }
  });

  it('the overview has the workload variable and the profile-change annotation', () => {
    const json = JSON.parse(committed('mec-overview.json'));
    assert.deepEqual(
      json.templating.list.map((v: { name: string }) => v.name),
      ['workload'],
    );
    assert.match(json.annotations.list[0].expr, /mec_link_profile_info/);
  });

  it('the headline reduction is compared with the profile prediction', () => {
    const json = JSON.parse(committed('mec-overview.json'));
    const headline = panelQueries(json).filter((q) => q.panel.startsWith('Round-trip reduction'));
    assert.deepEqual(
      headline.map((q) => q.legend),
      ['measured', 'predicted'],
    );
  });
});

describe('query helpers', () => {
  it('substitute replaces $var and the braced form, and refuses unknown variables', () => {
    assert.equal(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's braced variable syntax, not a JS template
      substitute('x{workload="$workload",a="${workload}"}', { workload: 'echo' }),
      'x{workload="echo",a="echo"}',
    );
    assert.throws(() => substitute('x{a="$site"}', {}), /\$site/);
  });

  it('metricNames finds series names, not functions, labels or keywords', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.5, sum by (link, le) (rate(foo_bucket{a="b:c"}[1m]))) / ignoring (q) bar:baz:sum unless x offset 1m',
      ),
      ['foo_bucket', 'bar:baz:sum', 'x'],
    );
    assert.deepEqual(metricNames(':mec_link_predicted_edge_reduction_ratio:max'), [
      ':mec_link_predicted_edge_reduction_ratio:max',
    ]);
  });

  it('feedOf tells k6-only and agent-only queries from the rest', () => {
    assert.equal(feedOf('site_workload:k6_http_reqs:rate1m{workload="echo"}'), 'k6');
    assert.equal(feedOf('max by (node) (mec_link_netem_available)'), 'agent');
    assert.equal(feedOf('site_workload:mec_http_requests:rate1m'), 'testbed');
    assert.equal(
      feedOf('site_workload:k6_http_reqs:rate1m / site_workload:mec_http_requests:rate1m'),
      'testbed',
    );
  });
});
