// The cluster's Prometheus configuration and rules, checked with promtool: syntax, every rule's unit tests,
// and that no recording rule or alert goes untested.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { need, promtool } from '../../../test/support/requirements.ts';

const dir = import.meta.dirname;
const ruleFiles = readdirSync(join(dir, 'rules'))
  .filter((f) => f.endsWith('.rules.yml'))
  .map((f) => join(dir, 'rules', f));
const testFiles = readdirSync(join(dir, 'tests'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => join(dir, 'tests', f));

/** Native-histogram series notation ({{schema:3 …}}) in promtool tests is newer than Debian's 2.42. */
const NATIVE_HISTOGRAM_TESTS = 'k6-native.test.yml';

function run(bin: string, args: string[]) {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

function promtoolVersion(bin: string): [number, number] {
  const out = execFileSync(bin, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** The cluster's Prometheus version, from PROMETHEUS_IMAGE in versions.env (e.g. 3.15.0). */
function clusterPrometheusVersion(): string {
  const env = readFileSync(join(dir, '..', '..', '..', 'versions.env'), 'utf8');
  return /^PROMETHEUS_IMAGE=[^:]+:v([\d.]+)/m.exec(env)?.[1] ?? 'unknown';
}

/**
 * A promtool of the cluster's Prometheus (3.x): $PROMTOOL3, or what `make promtool3`
 * (k8s/base/prometheus/promtool3.sh) built into ./bin or the CI cache, or `promtool` itself if it is 3.x.
 */
export function promtool3(): string | undefined {
  const version = clusterPrometheusVersion();
  const built = [
    join(dir, '..', '..', '..', 'bin', `promtool-v${version}`),
    join(homedir(), '.cache', 'mec-testbed', `promtool-v${version}`),
  ];
  for (const candidate of [process.env.PROMTOOL3, ...built]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    if (promtoolVersion('promtool')[0] >= 3) return 'promtool';
  } catch {}
  return undefined;
}

interface RuleFile {
  groups: Array<{ rules: Array<{ record?: string; alert?: string; expr: string }> }>;
}
interface TestFile {
  tests: Array<{
    promql_expr_test?: Array<{ expr: string }>;
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
  }>;
}

describe('Prometheus rules (promtool)', () => {
  it('every rule file passes promtool check rules', (t) => {
    if (!need(t, promtool)) return;
    for (const file of ruleFiles) {
      const r = run('promtool', ['check', 'rules', file]);
      assert.ok(r.ok, r.output);
    }
  });

  // The rules must hold on Debian's 2.42 (this machine, CI) and on the cluster's 3.x: every test file runs
  // with both promtools (the native-histogram file only with 3.x, 2.42 cannot read its series notation).
  for (const file of testFiles) {
    const name = file.split('/').pop() ?? file;
    if (name !== NATIVE_HISTOGRAM_TESTS) {
      it(`promtool 2.x test rules ${name}`, (t) => {
        if (!need(t, promtool)) return;
        const r = run('promtool', ['test', 'rules', file]);
        assert.ok(r.ok, r.output);
      });
    }
    it(`promtool 3.x test rules ${name}`, (t) => {
      const bin = promtool3();
      if (!bin) {
        need(
          t,
          () => 'a Prometheus 3 promtool (`make promtool3` builds it from the Go module; or PROMTOOL3=/path)',
        );
        return;
      }
      const r = run(bin, ['test', 'rules', file]);
      assert.ok(r.ok, r.output);
    });
  }

  it('every recording rule and alert has a unit test that exercises it', () => {
    const rules = ruleFiles.flatMap((f) =>
      (parse(readFileSync(f, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules),
    );
    const tests = testFiles.map((f) => parse(readFileSync(f, 'utf8')) as TestFile);
    const exprs = tests.flatMap((f) => f.tests.flatMap((c) => (c.promql_expr_test ?? []).map((e) => e.expr)));
    const firing = new Set(
      tests.flatMap((f) =>
        f.tests.flatMap((c) =>
          (c.alert_rule_test ?? []).filter((a) => (a.exp_alerts ?? []).length > 0).map((a) => a.alertname),
        ),
      ),
    );
    // Exercised: read by a tested expression or a firing alert, or (transitively) by an exercised rule.
    const reads = (expr: string, record: string) =>
      new RegExp(`(^|[^\\w:])${escapeRegExp(record)}([^\\w:]|$)`).test(expr);
    const frontier = [...exprs, ...rules.filter((r) => r.alert && firing.has(r.alert)).map((r) => r.expr)];
    const exercised = new Set<string>();
    while (frontier.length > 0) {
      const expr = frontier.pop() ?? '';
      for (const r of rules) {
        if (r.record && !exercised.has(r.record) && reads(expr, r.record)) {
          exercised.add(r.record);
          frontier.push(r.expr);
        }
      }
    }
    for (const rule of rules) {
      if (rule.alert)
        assert.ok(firing.has(rule.alert), `alert ${rule.alert} has no alert_rule_test in which it fires`);
      else
        assert.ok(exercised.has(rule.record ?? ''), `recording rule ${rule.record} is exercised by no test`);
    }
  });

  it('prometheus.yml passes promtool check config (Prometheus 3, with Kubernetes discovery)', (t) => {
    const bin = promtool3();
    if (!bin) {
      // Debian's promtool 2.42 is built without Kubernetes service discovery and rejects kubernetes_sd_configs.
      need(
        t,
        () => 'a Prometheus 3 promtool (PROMTOOL3=/path; `make promtool3` builds one from the Go module)',
      );
      return;
    }
    const r = run(bin, ['check', 'config', join(dir, 'prometheus.yml')]);
    assert.ok(r.ok, r.output);
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
