// `make dev`: the Docker-free testbed on this machine, as the UE sees it (wiring.ts draws it). One terminal: every
// line of every process, prefixed with its name. Ctrl-C or SIGTERM stops them all in an order that lets requests in
// flight finish (launcher.ts); a second Ctrl-C stops at once. `make dev-profile PROFILE=<name|file>` switches the
// profile while it runs. PROFILE picks the profile; DEV_* variables move the ports (wiring.ts PORT_VARS).
import { fileURLToPath } from 'node:url';
import { ProfileError, predictedReduction } from '../../services/topology/index.ts';
import { DevStartError, type DevTestbed, startDev } from './launcher.ts';
import { budgetLines, devPorts } from './wiring.ts';

export type { DevPorts, DevProcess } from './wiring.ts';
export { budgetLines, DEFAULT_PORTS, devPorts, devProcesses } from './wiring.ts';

function banner(dev: DevTestbed): string {
  const { ports, topology } = dev;
  return [
    '',
    `dev   ready, profile ${topology.name} (reduction predicted: ${Math.round(predictedReduction(topology) * 1000) / 10}%)`,
    `  edge  through ue->edge : http://127.0.0.1:${ports.edge}/api/v1/echo    (raw: http://127.0.0.1:${ports.edgeRaw})`,
    `  cloud through ue->cloud: http://127.0.0.1:${ports.cloud}/api/v1/echo    (raw: http://127.0.0.1:${ports.cloudRaw})`,
    `  edge -> cloud fetches cross edge->cloud via 127.0.0.1:${ports.edgeToCloud}`,
    `  link proxy admin: http://127.0.0.1:${ports.admin}/api/v1/links  /metrics`,
    ...budgetLines(topology),
    '  switch profile: make dev-profile PROFILE=<preset|file>    stop: Ctrl-C',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const { ports, errors } = devPorts(process.env);
  if (errors.length > 0) {
    console.error(`make dev: invalid configuration:\n  ${errors.join('\n  ')}`);
    return 1;
  }
  // Signals that arrive while starting stop the testbed as soon as it exists; a second one stops at once.
  let dev: DevTestbed | undefined;
  let signalled: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      console.log(`dev   ${signal} again: stopping now`);
      process.exit(130);
    }
    signalled = signal;
    void dev?.stop(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  try {
    dev = await startDev({ profile: process.env.PROFILE?.trim() || '5g-mec', ports });
  } catch (err) {
    if (err instanceof ProfileError || err instanceof DevStartError) {
      console.error(`make dev: ${err.message}`);
      return 1;
    }
    throw err;
  }
  if (signalled) void dev.stop(signalled);
  else console.log(banner(dev));
  const result = await dev.done;
  const exits = Object.entries(result.exits).map(([name, r]) => `${name} ${r}`);
  console.log(`dev   stopped${result.clean ? '' : ` (exits: ${exits.join(', ')})`}`);
  return result.clean ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
