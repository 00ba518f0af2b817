import { describe, expect, it } from '@jest/globals';
import { explainBoot, normalisePowerState } from '../../domain/boot.ts';

describe('boot diagnosis', () => {
  it('names the furthest point the machine reached', () => {
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: 'stopped' })).toBe('the VM is stopped, not running');
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: 'running' })).toContain('never fetched its meta-data');
    expect(explainBoot({ fetched: ['meta-data'], phonedHome: false, powerState: 'running' })).toContain('but not user-data');
    expect(explainBoot({ fetched: ['meta-data', 'user-data'], phonedHome: false, powerState: 'running' })).toContain('never phoned home');
    expect(explainBoot({ fetched: ['meta-data', 'user-data'], phonedHome: true, powerState: 'running' })).toBe('the machine phoned home');
  });
});

describe('boot diagnosis for a bare-metal host', () => {
  it('names the host and speaks of the kernel command line, with Redfish power states normalised', () => {
    const host = { kind: 'host', name: 'rack1-u7' } as const;
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: normalisePowerState('Off') }, host)).toBe('host rack1-u7 is stopped, not running');
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: normalisePowerState('On') }, host)).toContain(
      "host rack1-u7 is running but never fetched its meta-data: is the NoCloud seed URL on the image's kernel command line",
    );
    expect(explainBoot({ fetched: ['meta-data'], phonedHome: false, powerState: 'running' }, host)).toContain(
      'host rack1-u7 fetched meta-data but not user-data',
    );
  });
});
