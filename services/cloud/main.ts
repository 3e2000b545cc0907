// Entrypoint: `node services/cloud/main.ts` (config from the environment; see README.md).
import { runService } from '../skeleton/index.ts';
import { cloudService } from './service.ts';

await runService(cloudService);
