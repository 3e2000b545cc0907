// The experiment command line, behind `make experiment`, `make experiment-compare` and `make experiment-report`.
//   node services/experiment/main.ts run <name|file> [--dry-run] [--resume DIR] [--out DIR]
//   node services/experiment/main.ts report <DIR>          recompute runs.csv, summary.json, figures, report.html
//   node services/experiment/main.ts compare <A> <B>       do two result sets differ? (stated test)
//   node services/experiment/main.ts validate <name|file>...
//   node services/experiment/main.ts list
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { analyse } from './analysis.ts';
import { compareAnalyses, comparisonText } from './compare.ts';
import { runOnKind } from './kind.ts';
import { builtinNames, loadExperiment } from './load.ts';
import { writeOutputs } from './outputs.ts';
import { dryRunText, runExperiment } from './runner.ts';
import { SpecError } from './validate.ts';

const USAGE = `usage:
  make experiment EXPERIMENT=<name|file> [DRY_RUN=1] [RESUME=results/<dir>]
  make experiment-compare A=results/<dir> B=results/<dir>
  make experiment-report DIR=results/<dir>
built-in experiments: experiments/*.yaml`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { 'dry-run': { type: 'boolean' }, resume: { type: 'string' }, out: { type: 'string' } },
  });
  const [command, ...args] = positionals;
  switch (command) {
    case 'list': {
      for (const name of await builtinNames()) {
        const x = await loadExperiment(name);
        console.log(`${name.padEnd(10)} ${x.spec.description.split('\n')[0]}`);
      }
      return 0;
    }
    case 'validate': {
      if (args.length === 0) throw new UsageError('validate needs spec files or names');
      for (const a of args) {
        const x = await loadExperiment(a);
        console.log(`${a}: valid, ${x.conditions.length} conditions × ${x.spec.repetitions} repetitions`);
      }
      return 0;
    }
    case 'run': {
      const [name] = args;
      if (!name) throw new UsageError('run needs an experiment: a built-in name or a spec file');
      const x = await loadExperiment(name);
      if (values['dry-run']) {
        console.log(dryRunText(x));
        return 0;
      }
      if (x.spec.target === 'kind') return await runOnKind(x, { resume: values.resume, outRoot: values.out });
      const tty = process.stdout.isTTY;
      const status = tty
        ? (line: string) => process.stdout.write(`\r\x1b[2K${line.slice(0, process.stdout.columns - 1)}`)
        : undefined;
      const print = tty ? (line: string) => process.stdout.write(`\r\x1b[2K${line}\n`) : undefined;
      const { complete, failed } = await runExperiment(x, {
        ...(values.resume ? { resume: values.resume } : {}),
        ...(values.out ? { outRoot: values.out } : {}),
        ...(print ? { print } : {}),
        ...(status ? { status } : {}),
      });
      return failed ? 1 : complete ? 0 : 130;
    }
    case 'report': {
      const [dir] = args;
      if (!dir) throw new UsageError('report needs a result set directory');
      const a = await writeOutputs(path.resolve(dir));
      console.log(`${a.summary.runs.done} runs analysed; ${path.join(dir, 'report.html')}`);
      return 0;
    }
    case 'compare': {
      const [a, b] = args;
      if (!a || !b) throw new UsageError('compare needs two result set directories: A=… B=…');
      console.log(
        comparisonText(a, b, compareAnalyses(await analyse(path.resolve(a)), await analyse(path.resolve(b)))),
      );
      return 0;
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command');
  }
}

class UsageError extends Error {}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof SpecError) console.error(err.message);
    else if (err instanceof UsageError) console.error(`${err.message}\n${USAGE}`);
    else console.error(`experiment: ${(err as Error).message}`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
