// Entrypoint: node services/link-proxy/main.ts (config from env and flags; see config.ts USAGE).
import { ProfileError } from '../topology/index.ts';
import { parseProxyConfig, USAGE } from './config.ts';
import { jsonLog, startLinkProxy } from './service.ts';

const parsed = parseProxyConfig(process.env, process.argv.slice(2));
if (!parsed.ok) {
  if (parsed.errors.length === 0) {
    console.log(USAGE);
    process.exit(0);
  }
  console.error(`link-proxy: invalid configuration:\n  ${parsed.errors.join('\n  ')}\n\n${USAGE}`);
  process.exit(1);
}
const config = parsed.config;
const log = jsonLog(config.logLevel);
try {
  const service = await startLinkProxy(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping', { signal });
    service.stop(config.shutdownTimeoutSeconds).then(
      () => process.exit(0),
      (err: Error) => {
        log('error', 'stop failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  if (err instanceof ProfileError) console.error(`link-proxy: ${err.message}`);
  else console.error(`link-proxy: cannot start: ${(err as Error).message}`);
  process.exit(1);
}
