import { describe, expect, it } from '@jest/globals';
import { QUIRK_PROFILES, selectQuirkProfile, transferProtocolFor } from '../../providers/redfish/quirks.ts';

describe('Redfish quirk profile selection', () => {
  it.each([
    [{ vendor: 'Dell' }, 'dell-idrac'],
    [{ oemKeys: ['Dell'] }, 'dell-idrac'],
    [{ manufacturer: 'Dell Inc.' }, 'dell-idrac'],
    [{ vendor: 'HPE' }, 'hpe-ilo'],
    [{ oemKeys: ['Hp'] }, 'hpe-ilo'],
    [{ manufacturer: 'HPE' }, 'hpe-ilo'],
    [{ vendor: 'Supermicro' }, 'supermicro'],
    [{ oemKeys: ['Supermicro'] }, 'supermicro'],
    [{ manufacturer: ' Supermicro ' }, 'supermicro'],
    [{ serviceName: ['Redvirt Service'] }, 'sushy-emulator'],
    [{ manufacturer: 'Sushy Emulator' }, 'sushy-emulator'],
    [{ vendor: 'Contoso', oemKeys: ['Contoso'], manufacturer: 'Contoso' }, 'generic'],
    [{}, 'generic'],
  ] as const)('%j → %s', (evidence, profile) => {
    expect(
      selectQuirkProfile({
        ...evidence,
        oemKeys: 'oemKeys' in evidence ? [...evidence.oemKeys] : [],
        serviceName: 'serviceName' in evidence ? [...evidence.serviceName] : [],
      }).name,
    ).toBe(profile);
  });

  it('every profile is data the client consults, with its deviations noted', () => {
    for (const p of Object.values(QUIRK_PROFILES)) {
      expect(p.virtualMediaLocations.length).toBeGreaterThan(0);
      expect(p.resetTypes.on.length).toBeGreaterThan(0);
      expect(p.resetTypes.forceOff.length).toBeGreaterThan(0);
      if (p.name !== 'generic') expect(p.notes.length).toBeGreaterThan(0);
    }
    expect(QUIRK_PROFILES['dell-idrac'].virtualCdBoot.kind).toBe('dell-scp');
    expect(QUIRK_PROFILES['hpe-ilo'].virtualCdBoot).toEqual({ kind: 'standard', target: 'Cd' });
    expect(QUIRK_PROFILES.supermicro.insertMedia).toEqual({ sendInsertedAndWriteProtected: false, transferProtocolType: 'always' });
    expect(QUIRK_PROFILES['sushy-emulator'].bootOverride.enabledReadBack).toBe('unreported');
  });

  it('derives TransferProtocolType from the image URL', () => {
    expect(transferProtocolFor('http://x/a.iso')).toBe('HTTP');
    expect(transferProtocolFor('HTTPS://x/a.iso')).toBe('HTTPS');
    expect(transferProtocolFor('nfs://x/a.iso')).toBe('NFS');
    expect(transferProtocolFor('smb://x/a.iso')).toBe('CIFS');
    expect(transferProtocolFor('/local/a.iso')).toBeUndefined();
  });
});
