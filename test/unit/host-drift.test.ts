// The Redfish observer's rules: BMC groups from tags, and what one BMC reading means for a host.
import { describe, expect, it } from '@jest/globals';
import { bmcGroupOf, bmcGroups, hostDifferences, imageName, redfishTarget, type HostRecord } from '../../domain/host-drift.ts';

const host = (state: HostRecord['state']): HostRecord => ({ id: 'h1', name: 'bm-1', state });
const on = { reachable: true as const, powerState: 'On', media: { inserted: false, imageName: null } };

describe('BMC groups', () => {
  it('always has default first, each configured group once', () => {
    expect(bmcGroups('')).toEqual(['default']);
    expect(bmcGroups('rack-1,default,rack-2,rack-1')).toEqual(['default', 'rack-1', 'rack-2']);
  });

  it('puts a host in the first configured group its tags name, else default', () => {
    const groups = ['default', 'rack-1', 'rack-2'];
    expect(bmcGroupOf(['gpu', 'bmc-group:rack-2', 'bmc-group:rack-1'], groups)).toBe('rack-2');
    expect(bmcGroupOf(['bmc-group:rack-9'], groups)).toBe('default');
    expect(bmcGroupOf([], groups)).toBe('default');
    expect(redfishTarget('rack-1')).toBe('redfish:rack-1');
  });
});

describe('hostDifferences', () => {
  it('a provisioned host that is off is a power_mismatch; on, or powering, is not', () => {
    expect(hostDifferences(host('provisioned'), { ...on, powerState: 'Off' })).toEqual([
      expect.objectContaining({ kind: 'power_mismatch', desired: { power: 'running' }, observed: { power: 'stopped', bmc_power_state: 'Off' } }),
    ]);
    expect(hostDifferences(host('provisioned'), on)).toEqual([]);
    expect(hostDifferences(host('provisioned'), { ...on, powerState: 'PoweringOff' })).toEqual([]);
    // An available host may be off: that is its resting state.
    expect(hostDifferences(host('available'), { ...on, powerState: 'Off' })).toEqual([]);
  });

  it('media left in an available host is a config_mismatch; a provisioned host or no CD is not judged on media', () => {
    const inserted = { ...on, media: { inserted: true, imageName: 'x.iso' } };
    expect(hostDifferences(host('available'), inserted)).toEqual([
      expect.objectContaining({ kind: 'config_mismatch', observed: { virtual_media: 'inserted', image_name: 'x.iso' } }),
    ]);
    expect(hostDifferences(host('provisioned'), inserted)).toEqual([]);
    expect(hostDifferences(host('available'), { ...on, media: null })).toEqual([]);
  });

  it('an unanswered BMC is only an unreachable difference, whatever the state', () => {
    const diffs = hostDifferences(host('provisioned'), { reachable: false, code: 'bmc_unreachable', reason: 'Unreachable', message: 'refused' });
    expect(diffs).toEqual([expect.objectContaining({ kind: 'unreachable', observed: { reachable: false, code: 'bmc_unreachable', reason: 'Unreachable' } })]);
  });

  it('reports only the file name of an inserted image (a seed URL carries a token)', () => {
    expect(imageName('http://10.0.0.1/cloud-init/abc/SECRET/cidata.iso')).toBe('cidata.iso');
    expect(imageName('not a url')).toBeNull();
    expect(imageName(null)).toBeNull();
  });
});
