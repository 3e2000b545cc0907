// Grafana and Prometheus as the pinned versions want them, on the rendered overlays: Grafana sized from its own
// documented minimum with nothing that dials out, and Prometheus without flags its version has made no-ops.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { skipUnless } from '../../test/support/requirements.ts';
import { podSpecOf, quantity } from '../policy.ts';
import { kustomize, type Manifest, OVERLAYS, REPO_ROOT, renderOverlay } from '../render.ts';

const versions = readFileSync(join(REPO_ROOT, 'versions.env'), 'utf8');
const tagOf = (key: string) =>
  /:v?(\d+)\.(\d+)\.\d+@/
    .exec(new RegExp(`^${key}=(.+)$`, 'm').exec(versions)?.[1] ?? '')
    ?.slice(1)
    .map(Number) ?? [];

/** `820MiB` → bytes, as the Go runtime reads GOMEMLIMIT. */
function goBytes(text: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB)$/.exec(text);
  const unit: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };
  return m ? Number(m[1]) * (unit[m[2] as string] as number) : Number.NaN;
}

describe('Grafana and Prometheus settings', { skip: skipUnless(kustomize) }, () => {
  const rendered = new Map<string, Manifest[]>();
  before(() => {
    for (const overlay of OVERLAYS) rendered.set(overlay, renderOverlay(overlay));
  });
  const container = (overlay: string, name: string) =>
    podSpecOf(
      rendered.get(overlay)?.find((o) => o.kind === 'Deployment' && o.metadata?.name === name) as Manifest,
    )?.containers?.[0];
  const env = (c: Manifest) => Object.fromEntries((c.env ?? []).map((e: Manifest) => [e.name, e.value]));

  for (const overlay of OVERLAYS) {
    it(`${overlay}: Grafana dials out to nothing (updates, news, usage, plugin preinstaller and catalogue, signing key, snapshots)`, () => {
      const e = env(container(overlay, 'grafana') as Manifest);
      assert.deepEqual(
        {
          GF_ANALYTICS_REPORTING_ENABLED: e.GF_ANALYTICS_REPORTING_ENABLED,
          GF_ANALYTICS_CHECK_FOR_UPDATES: e.GF_ANALYTICS_CHECK_FOR_UPDATES,
          GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: e.GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES,
          GF_NEWS_NEWS_FEED_ENABLED: e.GF_NEWS_NEWS_FEED_ENABLED,
          GF_PLUGINS_PREINSTALL_DISABLED: e.GF_PLUGINS_PREINSTALL_DISABLED,
          GF_PLUGINS_PREINSTALL_AUTO_UPDATE: e.GF_PLUGINS_PREINSTALL_AUTO_UPDATE,
          GF_PLUGINS_PLUGIN_ADMIN_ENABLED: e.GF_PLUGINS_PLUGIN_ADMIN_ENABLED,
          GF_PLUGINS_PUBLIC_KEY_RETRIEVAL_DISABLED: e.GF_PLUGINS_PUBLIC_KEY_RETRIEVAL_DISABLED,
          GF_SNAPSHOTS_EXTERNAL_ENABLED: e.GF_SNAPSHOTS_EXTERNAL_ENABLED,
        },
        {
          GF_ANALYTICS_REPORTING_ENABLED: 'false',
          GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
          GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES: 'false',
          GF_NEWS_NEWS_FEED_ENABLED: 'false',
          GF_PLUGINS_PREINSTALL_DISABLED: 'true',
          GF_PLUGINS_PREINSTALL_AUTO_UPDATE: 'false',
          GF_PLUGINS_PLUGIN_ADMIN_ENABLED: 'false',
          GF_PLUGINS_PUBLIC_KEY_RETRIEVAL_DISABLED: 'true',
          GF_SNAPSHOTS_EXTERNAL_ENABLED: 'false',
        },
      );
    });

    it(`${overlay}: Grafana gets at least its documented minimum (512 MB, 1 CPU) and collects before its limit`, () => {
      const c = container(overlay, 'grafana') as Manifest;
      assert.ok(quantity(c.resources.requests.memory) >= 512 * 2 ** 20, c.resources.requests.memory);
      assert.ok(quantity(c.resources.limits.memory) >= quantity(c.resources.requests.memory) * 2);
      assert.ok(quantity(c.resources.limits.cpu) >= 1, c.resources.limits.cpu);
      const share = goBytes(env(c).GOMEMLIMIT) / quantity(c.resources.limits.memory);
      assert.ok(
        share >= 0.7 && share <= 0.9,
        `GOMEMLIMIT is ${Math.round(share * 100)}% of the memory limit`,
      );
    });

    it(`${overlay}: Prometheus has no flag its pinned version ignores`, () => {
      const [major = 0, minor = 0] = tagOf('PROMETHEUS_IMAGE');
      const args: string[] = (container(overlay, 'prometheus') as Manifest).args;
      assert.ok(args.includes('--web.enable-remote-write-receiver'));
      // 2.x needs the flag to store k6's native histograms; from 3.9 it is a no-op that logs a warning.
      const flagNeeded = major < 3;
      assert.equal(
        args.includes('--enable-feature=native-histograms'),
        flagNeeded,
        `Prometheus ${major}.${minor}`,
      );
      if (major > 3 || (major === 3 && minor >= 9))
        assert.deepEqual(
          args.filter((a) => a.startsWith('--enable-feature')),
          [],
        );
    });
  }
});
