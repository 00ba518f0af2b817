// What `--wait` and `ops watch` draw on a terminal: each step with its elapsed time, an estimate
// from recent operations (or a spinner without one), and what a long step waits for.
import { describe, expect, it } from '@jest/globals';
import type { Progress } from '../../domain/progress.ts';
import { renderProgress } from '../../cli/progress.ts';

const now = Date.parse('2026-11-29T12:00:20.000Z');
const ago = (ms: number) => new Date(now - ms).toISOString();
const progress = (steps: Progress['steps']): Progress => ({
  workflow: 'deprovisionVm',
  resourceId: 'm-1',
  state: 'running',
  startedAt: ago(20_000),
  updatedAt: ago(0),
  steps,
});

describe('renderProgress', () => {
  it('names what a graceful shutdown waits for and that it forces it', () => {
    const lines = renderProgress('running', progress([{ name: 'stop', status: 'running', startedAt: ago(12_000) }]), {
      estimates: new Map(),
      settings: { shutdown_timeout_sec: 60, phone_home_timeout: '15m' },
      now,
      tick: 1,
    });
    expect(lines[0]).toBe('deprovisionVm m-1  [..............................] 0/1  running  20 s');
    expect(lines[1]).toBe('  [>] stop  12 s /');
    expect(lines[2]).toBe('      waiting up to 60 s for a graceful shutdown (ACPI), then forcing it');
  });

  it('shows an estimate from the median of recent runs, and when a step runs longer than usual', () => {
    const steps: Progress['steps'] = [
      { name: 'create', status: 'completed', startedAt: ago(20_000), finishedAt: ago(17_000) },
      { name: 'start', status: 'running', startedAt: ago(5_000) },
      { name: 'configure', status: 'running', startedAt: ago(9_000) },
    ];
    const lines = renderProgress('running', progress(steps), {
      estimates: new Map([
        ['start', 8_000],
        ['configure', 4_000],
      ]),
      settings: null,
      now,
      tick: 0,
    });
    expect(lines).toContain('  [x] create  3.0 s');
    expect(lines).toContain('  [>] start  5.0 s, about 3.0 s left (usually 8.0 s)');
    expect(lines).toContain('  [>] configure  9.0 s, longer than usual (4.0 s)');
  });
});
