import type { LoadedExperiment } from './load.ts';

export async function runOnKind(
  _x: LoadedExperiment,
  _o: { resume?: string | undefined; outRoot?: string | undefined },
): Promise<number> {
  throw new Error('target kind: not built yet');
}
