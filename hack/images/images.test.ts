// Checks on the image recipe that need no Docker: the runtime dependency list covers what the services import,
// the lockfile closure is computed right, and the Dockerfile's pinned base matches versions.env.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IMAGE_SOURCE_DIRS, type Lockfile, RUNTIME_DEPENDENCIES, runtimeClosure } from './runtime-deps.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('service image recipe', () => {
  it('every package the image code imports is a runtime dependency', () => {
    const imported = new Set<string>();
    for (const dir of IMAGE_SOURCE_DIRS) {
      for (const file of sourceFiles(dir)) {
        for (const match of readFileSync(file, 'utf8').matchAll(
          /^\s*import\s+(?!type\b)[^'"]*['"]([^'"]+)['"]/gm,
        )) {
          const specifier = match[1] as string;
          if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
          const name = specifier.startsWith('@')
            ? specifier.split('/').slice(0, 2).join('/')
            : specifier.split('/')[0];
          imported.add(name as string);
        }
      }
    }
    assert.ok(imported.has('express') && imported.has('yaml'), 'the scan sees imports');
    const missing = [...imported].filter(
      (name) => !(RUNTIME_DEPENDENCIES as readonly string[]).includes(name),
    );
    assert.deepEqual(missing, [], 'add these to hack/images/runtime-deps.ts or the image will not start');
  });

  it('runtime dependencies are in package.json dependencies (not devDependencies)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    for (const name of RUNTIME_DEPENDENCIES) assert.ok(pkg.dependencies[name], `${name} in dependencies`);
  });

  it('the lockfile closure follows nested copies and skips absent optional dependencies', () => {
    const lock: Lockfile = {
      lockfileVersion: 3,
      packages: {
        '': {},
        'node_modules/a': { dependencies: { b: '^1', c: '^2' }, optionalDependencies: { gone: '1' } },
        'node_modules/b': {},
        'node_modules/c': { dependencies: { b: '^1' } },
        'node_modules/a/node_modules/c': { dependencies: { b: '^2' } },
        'node_modules/a/node_modules/c/node_modules/b': {},
        'node_modules/unused': {},
      },
    };
    assert.deepEqual([...runtimeClosure(lock, ['a'])].sort(), [
      'node_modules/a',
      'node_modules/a/node_modules/c',
      'node_modules/a/node_modules/c/node_modules/b',
      'node_modules/b',
    ]);
    assert.throws(() => runtimeClosure(lock, ['missing']), /no missing reachable/);
  });

  it('the real lockfile closure holds the runtime packages and none of the tools', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
    const keep = runtimeClosure(lock, RUNTIME_DEPENDENCIES);
    for (const name of RUNTIME_DEPENDENCIES) assert.ok(keep.has(`node_modules/${name}`));
    for (const tool of ['typescript', '@biomejs/biome', 'testcontainers', '@kubernetes/client-node']) {
      assert.equal(keep.has(`node_modules/${tool}`), false, tool);
    }
  });

  it("the Dockerfile's default BASE_IMAGE is versions.env NODE_BASE_IMAGE, pinned by digest", () => {
    const dockerfile = readFileSync(join(root, 'services/Dockerfile'), 'utf8');
    const versions = readFileSync(join(root, 'versions.env'), 'utf8');
    const fromDockerfile = /^ARG BASE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    const fromVersions = /^NODE_BASE_IMAGE=(\S+)$/m.exec(versions)?.[1];
    assert.ok(fromDockerfile && fromVersions);
    assert.equal(fromDockerfile, fromVersions);
    assert.match(fromDockerfile, /^node:24[\w.-]*@sha256:[0-9a-f]{64}$/);
    assert.doesNotMatch(dockerfile, /^# syntax=/m, 'a syntax line would pull a frontend image');
    assert.match(dockerfile, /^USER 1000:1000$/m);
  });

  it('the Dockerfile copies every image source directory, and builds a target per image', () => {
    const dockerfile = readFileSync(join(root, 'services/Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (services\/[\w-]+) /gm)].map((m) => m[1]);
    assert.deepEqual([...copied].sort(), [...IMAGE_SOURCE_DIRS].sort());
    for (const target of ['edge', 'cloud', 'link-proxy']) {
      assert.match(dockerfile, new RegExp(`^FROM \\S+ AS ${target}$`, 'm'), `target ${target}`);
    }
    assert.match(dockerfile, /^CMD \["node", "services\/link-proxy\/main\.ts"\]$/m);
    // BuildKit sends only what services/Dockerfile.dockerignore lets through: a directory left out fails the build.
    const ignore = readFileSync(join(root, 'services/Dockerfile.dockerignore'), 'utf8');
    for (const dir of IMAGE_SOURCE_DIRS) assert.match(ignore, new RegExp(`^!${dir}/\\*\\*$`, 'm'), dir);
  });
});
