// The skeleton's public face: services import from here.
export * from './app.ts';
export * from './config.ts';
export * from './http.ts';
export * from './http-error.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './metrics-text.ts';
export * from './server.ts';
