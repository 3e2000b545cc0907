import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyError, probeNetem } from './probe.ts';
import { RecordingRunner } from './runner.ts';

describe('netem probe classification', () => {
  const cases: Array<[string, string]> = [
    ['Error: Specified qdisc kind is unknown.', 'module-missing'],
    ['Error: Specified qdisc not found.', 'module-missing'],
    ['RTNETLINK answers: No such file or directory', 'module-missing'],
    ['RTNETLINK answers: Operation not supported', 'docker-desktop-vm'],
    ['RTNETLINK answers: Operation not permitted', 'no-net-admin'],
    ['something else', 'unknown'],
  ];
  for (const [stderr, cause] of cases) {
    it(`"${stderr}" → ${cause}`, () => assert.equal(classifyError(stderr), cause));
  }

  it('no NET_ADMIN: the veth pair cannot be made, the fix names the capability, nothing is left behind', async () => {
    const runner = new RecordingRunner();
    runner.fail = (program, args) =>
      program === 'ip' && args.includes('add') ? 'RTNETLINK answers: Operation not permitted' : undefined;
    const result = await probeNetem(runner);
    assert.equal(result.available, false);
    assert.equal(result.cause, 'no-net-admin');
    assert.match(result.fix ?? '', /NET_ADMIN/);
    assert.ok(!runner.calls.some((c) => c.program === 'tc'), 'no tc without a device');
  });

  it("Docker Desktop's VM: netem answers 'Operation not supported'; the probe pair is deleted", async () => {
    const runner = new RecordingRunner();
    runner.fail = (program, args) =>
      program === 'tc' && args.includes('netem') ? 'RTNETLINK answers: Operation not supported' : undefined;
    const result = await probeNetem(runner);
    assert.equal(result.cause, 'docker-desktop-vm');
    assert.deepEqual(
      result.checks.map((c) => `${c.check}:${c.ok}`),
      ['veth:true', 'htb:true', 'u32:true', 'tbf:true', 'netem:false'],
    );
    const last = runner.calls.at(-1);
    assert.deepEqual(last?.args.slice(0, 2), ['link', 'del']);
    assert.match(last?.args[2] ?? '', /^mecpr[0-9a-f]{6}a$/);
  });

  it('removes a pair an earlier, killed probe left behind (and only such pairs)', async () => {
    const runner = new RecordingRunner();
    runner.respond = (program, args) =>
      program === 'ip' && args[0] === '-j'
        ? JSON.stringify([
            { ifname: 'lo' },
            { ifname: 'eth0' },
            { ifname: 'mecpr0a1b2ca' },
            { ifname: 'mecpr0a1b2cb' },
          ])
        : undefined;
    await probeNetem(runner);
    const deleted = runner.calls
      .filter((c) => c.args[0] === 'link' && c.args[1] === 'del')
      .map((c) => c.args[2]);
    assert.equal(deleted[0], 'mecpr0a1b2ca');
    assert.equal(deleted.length, 2, 'the leftover and this probe own pair');
  });

  it('everything works: available, no fix', async () => {
    const result = await probeNetem(new RecordingRunner());
    assert.equal(result.available, true);
    assert.equal(result.fix, undefined);
  });
});
