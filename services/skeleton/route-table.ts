// Route lookup for the skeleton: static paths in a Map, `:param` templates as one compiled pattern each. Pure,
// and one step per request instead of express's walk over a router layer per route (which cost about a third
// of an echo's time), while handlers still get express's req/res.
export type HttpMethod = 'GET' | 'POST';

export interface RouteEntry<T> {
  readonly method: HttpMethod;
  readonly path: string;
  readonly value: T;
}

export type RouteMatch<T> =
  | { kind: 'found'; value: T; path: string; params: Record<string, string> }
  /** The path exists but not for this method: answer 405 with `allow`. */
  | { kind: 'method'; path: string; allow: string }
  | { kind: 'none' };

interface PathEntry<T> {
  path: string;
  byMethod: Map<string, T>;
  allow: string;
  pattern?: RegExp;
  keys: string[];
}

export interface RouteTable<T> {
  match(method: string, path: string): RouteMatch<T>;
}

const PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;

export function compileRoutes<T>(entries: readonly RouteEntry<T>[]): RouteTable<T> {
  const byPath = new Map<string, PathEntry<T>>();
  for (const entry of entries) {
    if (!entry.path.startsWith('/')) throw new Error(`route path ${entry.path} must start with /`);
    let path = byPath.get(entry.path);
    if (!path) {
      const keys = [...entry.path.matchAll(PARAM)].map((m) => m[1] as string);
      const pattern =
        keys.length > 0
          ? new RegExp(
              `^${entry.path
                .split(PARAM)
                .map((part, i) => (i % 2 === 1 ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
                .join('')}/?$`,
            )
          : undefined;
      path = { path: entry.path, byMethod: new Map(), allow: '', keys, ...(pattern ? { pattern } : {}) };
      byPath.set(entry.path, path);
    }
    if (path.byMethod.has(entry.method))
      throw new Error(`route ${entry.method} ${entry.path} is defined twice`);
    path.byMethod.set(entry.method, entry.value);
  }
  const statics = new Map<string, PathEntry<T>>();
  const templates: PathEntry<T>[] = [];
  for (const path of byPath.values()) {
    const methods = [...path.byMethod.keys()];
    path.allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
    if (path.pattern) templates.push(path);
    else statics.set(path.path, path);
  }

  const resolve = (entry: PathEntry<T>, method: string, params: Record<string, string>): RouteMatch<T> => {
    // HEAD is GET without a body (node drops the body for HEAD responses).
    const value = entry.byMethod.get(method) ?? (method === 'HEAD' ? entry.byMethod.get('GET') : undefined);
    return value === undefined
      ? { kind: 'method', path: entry.path, allow: entry.allow }
      : { kind: 'found', value, path: entry.path, params };
  };

  return {
    match(method, rawPath) {
      const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
      const exact = statics.get(path);
      if (exact) return resolve(exact, method, {});
      for (const entry of templates) {
        const m = entry.pattern?.exec(path);
        if (!m) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < entry.keys.length; i++) {
          try {
            params[entry.keys[i] as string] = decodeURIComponent(m[i + 1] as string);
          } catch {
            // A malformed %-escape is not this route's parameter: treat the path as unknown.
            return { kind: 'none' };
          }
        }
        return resolve(entry, method, params);
      }
      return { kind: 'none' };
    },
  };
}
