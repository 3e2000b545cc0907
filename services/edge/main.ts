// Entrypoint: `node services/edge/main.ts` (config from the environment; see README.md).
import { runService } from '../skeleton/index.ts';
import { edgeService } from './service.ts';

await runService(edgeService);
