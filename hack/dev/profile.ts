// `make dev-profile PROFILE=<preset|file>`: switches the running `make dev` testbed's link profile. The
// profile is validated here first (so the error names the file and the place in it), then PUT to the link
// proxy, which validates again and swaps it in at once, or keeps the old one.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  loadProfile,
  PRESETS,
  ProfileError,
  parseProfileText,
  predictedReduction,
} from '../../services/topology/index.ts';
import { budgetLines, devPorts } from './main.ts';

async function main(): Promise<number> {
  const profile = (process.argv[2] ?? process.env.PROFILE ?? '').trim();
  if (!profile) {
    console.error(
      `usage: make dev-profile PROFILE=<preset|file>  (presets: ${Object.keys(PRESETS).join(', ')})`,
    );
    return 2;
  }
  const { ports, errors } = devPorts(process.env);
  if (errors.length > 0) {
    console.error(errors.join('\n'));
    return 1;
  }
  let url = `http://127.0.0.1:${ports.admin}/api/v1/profile`;
  let body: string | undefined;
  try {
    if (PRESETS[profile]) url += `?preset=${encodeURIComponent(profile)}`;
    else {
      body = await readFile(profile, 'utf8').catch(() => {
        throw new ProfileError(profile, [{ path: '', message: 'is neither a preset nor a readable file' }]);
      });
      parseProfileText(body, profile);
    }
  } catch (err) {
    console.error(err instanceof ProfileError ? err.message : (err as Error).message);
    return 1;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'PUT', ...(body === undefined ? {} : { body }) });
  } catch (err) {
    console.error(
      `cannot reach the link proxy at ${url} (${(err as Error).message}); is \`make dev\` running?`,
    );
    return 1;
  }
  const answer = (await res.json()) as { profile?: string; error?: { message: string } };
  if (!res.ok) {
    console.error(answer.error?.message ?? `HTTP ${res.status}`);
    return 1;
  }
  const t = await loadProfile(profile);
  console.log(
    `profile ${answer.profile} in force (reduction predicted: ${Math.round(predictedReduction(t) * 1000) / 10}%)`,
  );
  for (const line of budgetLines(t)) console.log(line);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
