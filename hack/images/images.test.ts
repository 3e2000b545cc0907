// Checks on the image recipes that need no Docker. Each service is an npm workspace (services/<name>/package.json)
// and each image installs one workspace's production dependencies (`npm ci --omit=dev --workspace …`), so these
// tests hold the manifests to the code: every package a file imports is declared by its workspace, each image
// copies exactly the source folders of its workspace's closure, and what the build context lets through is what
// the entrypoint loads, with no test or test double beside it.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, matchesGlob, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  workspaces?: string[];
}

/** Every workspace: its folder (services/<name>) and its package.json. */
const workspaces = new Map<string, Manifest>(
  readdirSync(join(root, 'services'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, 'services', e.name, 'package.json')))
    .map((e) => [`services/${e.name}`, JSON.parse(read(`services/${e.name}/package.json`)) as Manifest]),
);
const folderOf = new Map([...workspaces].map(([folder, m]) => [m.name, folder]));

/** The images: Dockerfile, target, the workspaces it installs, its entrypoint. */
const IMAGES = [
  { dockerfile: 'services/Dockerfile', target: 'edge', workspaces: ['services/edge'] },
  { dockerfile: 'services/Dockerfile', target: 'cloud', workspaces: ['services/cloud'] },
  { dockerfile: 'services/Dockerfile', target: 'link-proxy', workspaces: ['services/link-proxy'] },
  // The CLI's dependencies ride along: hack/testbed/cli-in-docker.sh runs the CLI (mounted) in this image.
  {
    dockerfile: 'services/link-agent/Dockerfile',
    target: '',
    workspaces: ['services/link-agent', 'services/cli'],
  },
] as const;

const isTest = (file: string) => file.endsWith('.test.ts');
/** Workspaces no image ships: they run from a checkout (hack/testbed/cli-in-docker.sh mounts it for the CLI). */
const RUNS_FROM_CHECKOUT = new Set(['services/cli', 'services/experiment']);

function tsFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** What a file loads: static imports and re-exports, dynamic import(), and worker files named by new URL(). */
function specifiers(file: string): string[] {
  const text = read(file);
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\b)[^'";=()`]*?from\s+['"]([^'"]+)['"]/gm))
    found.push(m[1] as string);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push(m[1] as string);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1] as string);
  for (const m of text.matchAll(/new URL\(\s*['"](\.[^'"]+\.ts)['"],\s*import\.meta\.url\s*\)/g))
    found.push(m[1] as string);
  return found;
}

const packageName = (specifier: string) =>
  specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : (specifier.split('/')[0] as string);

const workspaceOf = (file: string) => [...workspaces.keys()].find((w) => file.startsWith(`${w}/`));

/** The files an entrypoint loads, transitively (relative imports only: packages come from node_modules). */
function loadClosure(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const s of specifiers(file)) {
      if (s.startsWith('.')) queue.push(normalize(join(dirname(file), s)));
    }
  }
  return seen;
}

/** The workspaces a set of workspaces needs, following their @mec-testbed/* dependencies. */
function workspaceClosure(start: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length > 0) {
    const folder = queue.pop() as string;
    if (seen.has(folder)) continue;
    seen.add(folder);
    for (const dep of Object.keys(workspaces.get(folder)?.dependencies ?? {})) {
      const f = folderOf.get(dep);
      if (f) queue.push(f);
    }
  }
  return seen;
}

/** Docker's .dockerignore rules: later lines win, `!` re-includes, a pattern matching a folder covers its files. */
function contextFilter(dockerignore: string): (path: string) => boolean {
  const rules = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) =>
      l.startsWith('!') ? { include: true, pattern: l.slice(1) } : { include: false, pattern: l },
    );
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) {
      if (prefixes.some((p) => matchesGlob(p, rule.pattern))) included = rule.include;
    }
    return included;
  };
}

function stage(dockerfile: string, target: string): string {
  const text = read(dockerfile);
  if (target === '') return text.slice(text.lastIndexOf('\nFROM '));
  const start = text.indexOf(` AS ${target}\n`);
  assert.ok(start > 0, `${dockerfile} has a target ${target}`);
  const next = text.indexOf('\nFROM ', start);
  return text.slice(start, next === -1 ? undefined : next);
}

describe('npm workspaces', () => {
  it('the root lists the workspaces and carries no runtime dependencies of its own', () => {
    const rootManifest = JSON.parse(read('package.json')) as Manifest;
    assert.deepEqual(rootManifest.workspaces, ['services/*']);
    assert.equal(rootManifest.dependencies, undefined, 'runtime dependencies belong to a workspace');
    assert.ok(workspaces.size >= 8, 'every services/<name> folder is a workspace');
  });

  for (const [folder, manifest] of workspaces) {
    it(`${manifest.name} declares exactly what its code imports`, () => {
      const used = new Set<string>();
      const queue = tsFiles(folder).filter((f) => !isTest(f));
      const seen = new Set(queue);
      while (queue.length > 0) {
        const file = queue.pop() as string;
        for (const s of specifiers(file)) {
          if (s.startsWith('node:')) continue;
          if (!s.startsWith('.')) {
            used.add(packageName(s));
            continue;
          }
          const target = normalize(join(dirname(file), s));
          const other = workspaceOf(target);
          if (other === undefined) {
            // The CLI runs from a checkout, so it may load the repo's other files; what those import is its own.
            assert.ok(
              RUNS_FROM_CHECKOUT.has(folder),
              `${file} imports ${s}, outside every workspace: an image would not carry it`,
            );
            if (!seen.has(target)) {
              seen.add(target);
              queue.push(target);
            }
          } else if (other !== folder) used.add(workspaces.get(other)?.name as string);
        }
      }
      assert.deepEqual(
        Object.keys(manifest.dependencies ?? {}).sort(),
        [...used].sort(),
        `${folder}/package.json "dependencies" must list what its non-test files import (npm install <pkg> --workspace ${folder})`,
      );
    });
  }
});

describe('image recipes', () => {
  for (const image of IMAGES) {
    const name = image.target || 'link-agent';
    const folders = workspaceClosure(image.workspaces);
    const body = stage(image.dockerfile, image.target);

    it(`${name}: installs its workspaces and copies exactly their closure's sources`, () => {
      const text = read(image.dockerfile);
      const ci = image.workspaces.map((w) => `"--workspace=${w}"`).join(', ');
      assert.ok(text.includes(`"ci", "--omit=dev", ${ci},`), `npm ci ${ci}`);
      for (const f of folders)
        assert.ok(text.includes(`COPY ${f}/package.json ${f}/\n`), `${f}/package.json`);
      const copied = [...body.matchAll(/^COPY (services\/[\w-]+) \.\/services\/[\w-]+$/gm)].map((m) => m[1]);
      // The CLI is not shipped: only its dependencies, for the mounted checkout.
      const shipped = [...folders].filter((f) => f !== 'services/cli');
      assert.deepEqual(copied.sort(), shipped.sort());
    });

    it(`${name}: the build context lets through what the entrypoint loads, and no test or test double`, () => {
      const passes = contextFilter(read(`${image.dockerfile}.dockerignore`));
      const entry = `${image.workspaces[0]}/main.ts`;
      const loaded = loadClosure(entry);
      const shipped = [...folders]
        .filter((f) => f !== 'services/cli')
        .flatMap(tsFiles)
        .filter(passes);
      assert.deepEqual(
        [...loaded].filter((f) => !passes(f)),
        [],
        'files the entrypoint loads that the .dockerignore leaves out',
      );
      // Shared folders may hold files another image's entrypoint loads (the topology model, the workloads).
      const anyEntry = new Set(IMAGES.flatMap((i) => [...loadClosure(`${i.workspaces[0]}/main.ts`)]));
      assert.deepEqual(
        shipped.filter((f) => !anyEntry.has(f)),
        [],
        'files shipped that no image loads: a test double or a tool (name it in the .dockerignore)',
      );
    });
  }

  it('the build context filter follows Docker: last rule wins, a folder rule covers its files', () => {
    const passes = contextFilter('*\n!services/a/**\n**/*.test.ts\n**/node_modules\n!.cache/x/**\n');
    assert.equal(passes('services/a/b.ts'), true);
    assert.equal(passes('services/a/b.test.ts'), false);
    assert.equal(passes('services/b/c.ts'), false);
    assert.equal(passes('.cache/x/node_modules/p/index.js'), true);
    assert.equal(passes('services/a/node_modules/p/index.js'), false);
  });

  it("the Dockerfiles' default BASE_IMAGE is versions.env NODE_BASE_IMAGE, pinned by digest", () => {
    const fromVersions = /^NODE_BASE_IMAGE=(\S+)$/m.exec(read('versions.env'))?.[1];
    assert.match(fromVersions ?? '', /^node:24[\w.-]*@sha256:[0-9a-f]{64}$/);
    for (const file of ['services/Dockerfile', 'services/link-agent/Dockerfile']) {
      const dockerfile = read(file);
      assert.equal(/^ARG BASE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1], fromVersions, file);
      assert.doesNotMatch(dockerfile, /^# syntax=/m, 'a syntax line would pull a frontend image');
    }
    assert.match(read('services/Dockerfile'), /^USER 1000:1000$/m);
  });
});
