// Every file of the repository that is generated, and what generates it: `make generate` writes them all and
// generated.test.ts fails when any committed copy differs. A new generated file is one more entry here.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { allDashboards, renderDashboard } from '../../grafana/src/dashboards.ts';
import { siteComputeYaml } from '../../k8s/site-compute.ts';
import { render as renderPredictions } from '../../loadtest/node/predictions.ts';
import { defaultProfileYaml } from '../../services/cli/link-profile.ts';
import { rangesTable as experimentRangesTable, experimentSchema } from '../../services/experiment/schema.ts';
import { DEFAULT_PRESET, PRESETS, topologyFrom } from '../../services/topology/index.ts';
import { presetsTable, rangesTable } from '../../services/topology/readme-tables.ts';
import { linkProfileJsonSchema } from '../../services/topology/schema.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GeneratedFile {
  /** Relative to the repository's root. */
  path: string;
  /** The file's new text, from its current text (undefined: not there yet); a README keeps its prose. */
  render(current: string | undefined): string;
}

/** Replaces what stands between `<!-- name:begin -->` and `<!-- name:end -->`, which must be there. */
export function replaceBlock(text: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->\n`;
  const end = `<!-- ${name}:end -->`;
  const from = text.indexOf(begin);
  const to = text.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`the ${begin.trim()} … ${end} block is missing`);
  return `${text.slice(0, from + begin.length)}${content}\n${text.slice(to)}`;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export function generatedFiles(): GeneratedFile[] {
  return [
    { path: 'services/topology/link-profile.schema.json', render: () => json(linkProfileJsonSchema()) },
    { path: 'k8s/base/link-profile/profile.yaml', render: () => defaultProfileYaml() },
    { path: 'experiments/experiment.schema.json', render: () => json(experimentSchema()) },
    {
      path: 'experiments/README.md',
      render: (current) => {
        if (current === undefined) throw new Error('experiments/README.md is missing');
        return replaceBlock(current, 'ranges', experimentRangesTable());
      },
    },
    {
      path: 'k8s/base/site-compute.yaml',
      render: () =>
        siteComputeYaml(
          topologyFrom(PRESETS[DEFAULT_PRESET], DEFAULT_PRESET),
          `the preset "${DEFAULT_PRESET}"`,
        ),
    },
    { path: 'loadtest/lib/predictions.gen.ts', render: () => renderPredictions() },
    ...Object.entries(allDashboards()).map(([file, dashboard]) => ({
      path: `grafana/dashboards/${file}`,
      render: () => renderDashboard(dashboard),
    })),
    {
      path: 'README.md',
      render: (current) => {
        if (current === undefined) throw new Error('README.md is missing');
        return replaceBlock(
          replaceBlock(current, 'presets', presetsTable()),
          'profile-ranges',
          rangesTable(),
        );
      },
    },
  ];
}

/** Files in the generated folders that no generator writes (a dashboard left behind by a rename). */
export function strayFiles(): string[] {
  const known = new Set(generatedFiles().map((f) => f.path));
  return readdirSync(`${ROOT}grafana/dashboards`)
    .filter((name) => name.endsWith('.json'))
    .map((name) => `grafana/dashboards/${name}`)
    .filter((path) => !known.has(path));
}
