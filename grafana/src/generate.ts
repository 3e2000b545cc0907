// Writes grafana/dashboards/*.json from the dashboards as code. Run `npm run grafana:generate` (or
// `node grafana/src/generate.ts`) after changing a panel and commit the JSON; a test fails when it is stale.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allDashboards, renderDashboard } from './dashboards.ts';

const outDir = join(import.meta.dirname, '..', 'dashboards');

for (const [file, dashboard] of Object.entries(allDashboards())) {
  await writeFile(join(outDir, file), renderDashboard(dashboard));
  console.log(`wrote grafana/dashboards/${file}`);
}
