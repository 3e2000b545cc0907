// The whole proxy suite again with TIMER_MODE=precise, where the event loop writes every chunk (woken by the
// timer's helper thread) instead of the default release thread: delay, handshake, jitter and order,
// bandwidth, faults and run-time changes must hold in both. The test runner gives each file its own process,
// so this setting reaches only the import below.
process.env.LINK_PROXY_TEST_TIMER_MODE = 'precise';
await import('./proxy.test.ts');
