// What the VM runs from this repository, packed as a cpio archive the kernel unpacks beside the base (build.sh):
// the files the entry points import, followed from their import statements, and the npm packages they name with
// everything those need by their package.json, found where Node itself would find them (the nearest
// node_modules up from the importing file). A package that is a link to a workspace of this repository is kept
// as the link, and the workspace's sources are followed like the entry points'. Nothing is listed by hand, so
// the VM carries the link agent as it is on disk, however its packages are laid out; every package.json on the
// way (module type, exports) comes along.
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Module specifiers a source file loads at run time (`import type` and `export type` are erased, so skipped). */
export function runtimeSpecifiers(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /(?:^|[;\s])import\s+(?!type\s)[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /(?:^|[;\s])export\s+(?!type\s)[^'"`;]*?\sfrom\s*['"]([^'"]+)['"]/g,
    /(?:^|[;\s])import\s*['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) if (m[1]) found.add(m[1]);
  return [...found];
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; undefined for relative and `node:` specifiers. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:'))
    return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Files in an npm package that nothing loads at run time. */
const UNUSED_IN_PACKAGES = /(\.d\.[cm]?ts|\.map|\.md|\.tsx?|\.flow)$/i;

interface Closure {
  /** Repository-relative paths of source files (and the package.json files that govern them). */
  sources: Set<string>;
  /** Repository-relative directories of npm packages. */
  packages: Set<string>;
  /** Repository-relative symbolic links (workspace packages in node_modules). */
  links: Set<string>;
}

/** The files and packages `entries` (repository-relative) need at run time. */
export function runtimeClosure(repoRoot: string, entries: readonly string[]): Closure {
  const closure: Closure = { sources: new Set(), packages: new Set(), links: new Set() };
  const queue = entries.map((e) => resolve(repoRoot, e));
  const manifests = (file: string) => {
    for (let dir = dirname(file); dir.startsWith(repoRoot); dir = dirname(dir)) {
      if (existsSync(join(dir, 'package.json')))
        closure.sources.add(relative(repoRoot, join(dir, 'package.json')));
      if (dir === repoRoot) break;
    }
  };
  const workspace = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules') workspace(full);
      else if (entry.isFile() && /\.[cm]?[jt]s$/.test(entry.name) && !/\.test\.[cm]?[jt]s$/.test(entry.name))
        queue.push(full);
    }
  };
  while (queue.length > 0) {
    const file = queue.shift() as string;
    const rel = relative(repoRoot, file);
    if (closure.sources.has(rel)) continue;
    if (!existsSync(file)) throw new Error(`${rel} is imported but does not exist`);
    closure.sources.add(rel);
    manifests(file);
    for (const spec of runtimeSpecifiers(readFileSync(file, 'utf8'))) {
      const pkg = packageName(spec);
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (pkg !== undefined) addPackage(repoRoot, dirname(file), pkg, false, closure, rel, workspace);
    }
  }
  return closure;
}

/** Where Node finds package `name` from `fromDir`: the nearest node_modules/<name> up to the repository root. */
export function findPackage(repoRoot: string, fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === repoRoot || dir === dirname(dir) || !dir.startsWith(repoRoot)) return undefined;
  }
}

function addPackage(
  repoRoot: string,
  fromDir: string,
  name: string,
  optional: boolean,
  closure: Closure,
  importer: string,
  workspace: (dir: string) => void,
): void {
  const dir = findPackage(repoRoot, fromDir, name);
  if (!dir) {
    if (optional) return;
    throw new Error(`${importer} needs the npm package ${name}, which is not installed: run npm ci`);
  }
  const rel = relative(repoRoot, dir);
  if (closure.packages.has(rel) || closure.links.has(rel)) return;
  if (lstatSync(dir).isSymbolicLink()) {
    // A workspace of this repository (npm links it): keep the link, follow its sources.
    closure.links.add(rel);
    workspace(realpathSync(dir));
    return;
  }
  closure.packages.add(rel);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  for (const dep of Object.keys(manifest.dependencies ?? {}))
    addPackage(repoRoot, dir, dep, false, closure, rel, workspace);
  for (const dep of Object.keys(manifest.optionalDependencies ?? {}))
    addPackage(repoRoot, dir, dep, true, closure, rel, workspace);
  for (const dep of Object.keys(manifest.peerDependencies ?? {}))
    addPackage(
      repoRoot,
      dir,
      dep,
      manifest.peerDependenciesMeta?.[dep]?.optional === true,
      closure,
      rel,
      workspace,
    );
}

/**
 * Every file and link of the closure, repository-relative, sorted (a package's own node_modules are packages
 * too).
 */
export function closureFiles(repoRoot: string, closure: Closure): string[] {
  const files = new Set([...closure.sources, ...closure.links]);
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(repoRoot, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(rel);
      } else if (entry.isFile() && !UNUSED_IN_PACKAGES.test(entry.name)) files.add(rel);
    }
  };
  for (const pkg of closure.packages) walk(pkg);
  return [...files].sort();
}

export interface ArchiveEntry {
  path: string;
  mode: number;
  data?: Buffer;
}

/** A cpio "newc" archive (what the kernel's initramfs unpacker reads), parent directories first. */
export function newcArchive(entries: readonly ArchiveEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let ino = 1;
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  const header = (name: string, mode: number, size: number) => {
    const fields = [ino++, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, Buffer.byteLength(name) + 1, 0];
    const text = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}${name}\0`;
    chunks.push(Buffer.from(text), pad(text.length));
  };
  const dirs = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dir && !dirs.has(dir)) {
        dirs.add(dir);
        header(dir, 0o040755, 0);
      }
    }
    const data = entry.data ?? Buffer.alloc(0);
    header(entry.path, entry.mode, data.length);
    chunks.push(data, pad(data.length));
  }
  header('TRAILER!!!', 0, 0);
  return Buffer.concat(chunks);
}

/**
 * The archive of `entries`' closure at the repository's own path (so a compile cache made on the host applies:
 * Node keys it by absolute path) with /app linking there, and how many files it holds.
 */
export function appArchive(
  repoRoot: string,
  entries: readonly string[],
  extra: readonly ArchiveEntry[] = [],
): { archive: Buffer; files: number } {
  const files = closureFiles(repoRoot, runtimeClosure(repoRoot, entries));
  const at = repoRoot.split(sep).filter(Boolean);
  const archive = newcArchive([
    ...files.map((rel) => {
      const full = join(repoRoot, rel);
      const path = [...at, ...rel.split(sep)].join('/');
      if (lstatSync(full).isSymbolicLink())
        return { path, mode: 0o120777, data: Buffer.from(readlinkSync(full)) };
      return { path, mode: 0o100000 | (statSync(full).mode & 0o777), data: readFileSync(full) };
    }),
    { path: 'app', mode: 0o120777, data: Buffer.from(`/${at.join('/')}`) },
    ...extra,
  ]);
  return { archive, files: files.length };
}
