import { describe, expect, it } from '@jest/globals';
import { explainBoot } from '../../domain/boot.ts';

describe('boot diagnosis', () => {
  it('names the furthest point the machine reached', () => {
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: 'stopped' })).toBe('the VM is stopped, not running');
    expect(explainBoot({ fetched: [], phonedHome: false, powerState: 'running' })).toContain('never fetched its meta-data');
    expect(explainBoot({ fetched: ['meta-data'], phonedHome: false, powerState: 'running' })).toContain('but not user-data');
    expect(explainBoot({ fetched: ['meta-data', 'user-data'], phonedHome: false, powerState: 'running' })).toContain('never phoned home');
    expect(explainBoot({ fetched: ['meta-data', 'user-data'], phonedHome: true, powerState: 'running' })).toBe('the machine phoned home');
  });
});
