// The topology model's public face: import from here.
export * from './bounded-yaml.ts';
export * from './compute.ts';
export * from './load.ts';
export * from './located.ts';
export * from './model.ts';
export * from './paths.ts';
export * from './presets.ts';
export * from './schema.ts';
export * from './units.ts';
export * from './validate.ts';
