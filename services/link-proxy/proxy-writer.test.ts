// The whole proxy suite again, with delayed chunks written by the release thread (TIMER_MODE=writer): delay,
// handshake, jitter and order, bandwidth, faults and run-time changes must hold whichever thread writes.
// The test runner gives each file its own process, so this setting reaches only the import below.
process.env.LINK_PROXY_TEST_TIMER_MODE = 'writer';
await import('./proxy.test.ts');
