// What the host (vm.ts) and the guest controller (guest/controller.ts) say to each other over the control
// connection: one JSON object per line. The host asks the guest to run programs (optionally inside a network
// namespace), to feed and signal them and to write files; the guest reports their output and exit.

export type Request =
  | {
      id: number;
      op: 'spawn';
      argv: string[];
      /** Run inside this network namespace (`ip netns exec`). */
      netns?: string;
      env?: Record<string, string>;
      /** Report each output line as it comes instead of all of it at exit. */
      stream?: boolean;
      /** Keep the program's stdin open for `input` requests. */
      stdin?: boolean;
    }
  | { id: number; op: 'kill'; signal: NodeJS.Signals }
  /** Writes to the stdin of the program spawned with this id. */
  | { id: number; op: 'input'; data: string }
  /** Writes a file (base64 content); answered by an `exit` report with code 0. */
  | { id: number; op: 'write'; path: string; data: string; mode: number }
  | { id: 0; op: 'poweroff' };

export type Report =
  | { event: 'hello'; uptimeSeconds: number; node: string; kernel: string }
  | { id: number; event: 'output'; stream: 'stdout' | 'stderr'; line: string }
  | {
      id: number;
      event: 'exit';
      code: number | null;
      signal: string | null;
      stdout?: string;
      stderr?: string;
      error?: string;
    };

/** Splits a byte stream into lines and hands each complete one to `onLine`. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString();
    let at = pending.indexOf('\n');
    while (at !== -1) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      if (line.length > 0) onLine(line);
      at = pending.indexOf('\n');
    }
  };
}
