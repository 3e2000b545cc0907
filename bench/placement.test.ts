// Where the benches put the emulators: the command lines chrt/taskset get, and --pin's CPU lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePlacement, emulatorCommand, parsePin, parseRt } from './placement.ts';

describe('emulatorCommand', () => {
  it('runs the emulator as it is when nothing is asked', () => {
    assert.deepEqual(emulatorCommand({}, 'node', ['main.ts']), ['node', ['main.ts']]);
  });
  it('puts taskset outside chrt, so both exec down to the emulator', () => {
    assert.deepEqual(emulatorCommand({ rt: 10 }, 'node', ['main.ts']), [
      'chrt',
      ['-f', '10', 'node', 'main.ts'],
    ]);
    assert.deepEqual(emulatorCommand({ cpus: '1' }, 'server', ['-port', '9']), [
      'taskset',
      ['-c', '1', 'server', '-port', '9'],
    ]);
    assert.deepEqual(emulatorCommand({ rt: 5, cpus: '2,3' }, 'node', ['main.ts']), [
      'taskset',
      ['-c', '2,3', 'chrt', '-f', '5', 'node', 'main.ts'],
    ]);
  });
});

describe('parsePin', () => {
  it('splits the CPUs between the emulators and the rest', () => {
    assert.deepEqual(parsePin('1', 2), { emulators: [1], rest: [0] });
    assert.deepEqual(parsePin('2-3', 4), { emulators: [2, 3], rest: [0, 1] });
    assert.deepEqual(parsePin('3,0', 4), { emulators: [0, 3], rest: [1, 2] });
  });
  it('refuses what taskset would misread or what leaves the generator no CPU, naming the CPUs there are', () => {
    const cases: Array<[string, number, RegExp]> = [
      ['0-1', 2, /leaves no CPU for the load generator.*CPUs 0-1 here; e\.g\. --pin 1/],
      ['2', 2, /CPU 2 does not exist/],
      ['3-1', 4, /runs backwards/],
      ['one', 2, /"one" is not a CPU number or range/],
      ['', 2, /"" is not a CPU number/],
      ['0', 1, /leaves no CPU/],
    ];
    for (const [raw, n, why] of cases) assert.throws(() => parsePin(raw, n), why, raw);
  });
});

describe('parseRt and describePlacement', () => {
  it('takes a SCHED_FIFO priority or nothing', () => {
    assert.equal(parseRt(undefined), undefined);
    assert.equal(parseRt('10'), 10);
    for (const bad of ['0', '100', '1.5', 'x'])
      assert.throws(() => parseRt(bad), /expected a SCHED_FIFO priority/);
  });
  it('says where the emulators ran, for the bench header', () => {
    assert.equal(describePlacement({}), '');
    assert.equal(describePlacement({ rt: 10 }), '; emulators at SCHED_FIFO 10');
    assert.equal(
      describePlacement({ rt: 10, cpus: '1' }),
      '; emulators at SCHED_FIFO 10; emulators pinned to CPU 1, everything else off it',
    );
  });
});
