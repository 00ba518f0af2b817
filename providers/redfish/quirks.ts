// Vendor quirks for Redfish BMCs, kept as data in one table. The client never branches on a vendor
// name: it looks up the selected profile and consults its fields. Each profile documents the
// deviation from the DMTF behaviour it models and where that deviation is described.
//
// Sources (public vendor documentation and the issue trackers of the vendors' own tools):
// - Dell iDRAC: Dell's iDRAC Redfish API guide and white papers; dell/iDRAC-Redfish-Scripting issues
//   #24, #90, #116, #324 (the standard `Cd` override boots the *physical* optical drive; virtual CD
//   one-time boot needs the OEM ImportSystemConfiguration with `ServerBoot.1#FirstBootDevice=VCD-DVD`,
//   which is also what OpenStack Ironic's `idrac-redfish-virtual-media` boot interface does);
//   session exhaustion is `503` with message id `IDRAC.2.x.RAC0218` "The maximum number of user
//   sessions is reached".
// - HPE iLO 5/6: HPE's iLO Redfish documentation (servermanagementportal): resources carry ETags,
//   PATCH honours `If-Match` (412 on mismatch), virtual media lives under `Managers/1/VirtualMedia/2`
//   (CD/DVD; `1` is Floppy/USBStick), and the standard `Cd` override boots the virtual CD.
// - Supermicro X11/X12/X13/H13: Supermicro's Redfish reference guide and the fixes other clients
//   carry: InsertMedia rejects the optional `Inserted`/`WriteProtected` parameters on X12-era
//   firmware and requires `TransferProtocolType` (OpenStack sushy release notes; ansible
//   community.general redfish_utils), empty slots may report an `Image` with
//   `ConnectedVia: NotConnected` (ansible community.general PR #7470), few concurrent sessions.
//   Boards older than X11 only mount images through `Oem.Supermicro` (`Managers/1/VM1/CfgCD` +
//   `IsoConfig.Mount`); that path is not implemented: inspect() reports virtual media unsupported.
// - sushy-tools (OpenStack's Redfish emulator, used for tests and for libvirt "bare metal" labs):
//   no SessionService (basic auth only), `BootSourceOverrideEnabled` is always reported as
//   `Continuous` whatever was written, clearing the override takes `BootSourceOverrideTarget: None`,
//   virtual media under `Systems/<id>/VirtualMedia` (the Manager links to the same collection).

export type QuirkProfileName = 'generic' | 'dell-idrac' | 'hpe-ilo' | 'supermicro' | 'sushy-emulator';

export type VirtualMediaLocation = 'Systems' | 'Managers';

export interface QuirkProfile {
  name: QuirkProfileName;
  description: string;
  /** How the profile is recognised; the first profile with a matching rule wins, generic is the fallback. */
  match: {
    /** Service root `Vendor` (Redfish 1.5+). */
    vendor?: RegExp;
    /** Keys of the service root's `Oem` object. */
    oemKeys?: string[];
    /** ComputerSystem `Manufacturer`. */
    manufacturer?: RegExp;
    /** Service root `Name`/`Id`/`Product`. */
    serviceName?: RegExp;
  };
  /** Where to look for a CD/DVD VirtualMedia resource, in order. */
  virtualMediaLocations: VirtualMediaLocation[];
  insertMedia: {
    /** Send `Inserted: true` and `WriteProtected: true` (optional parameters per the 2021.1 schema). */
    sendInsertedAndWriteProtected: boolean;
    /** `always`: send `TransferProtocolType` derived from the URL scheme; `when-required`: only after the BMC asks for it. */
    transferProtocolType: 'always' | 'when-required';
    /** `TransferMethod` to send (`Stream` or `Upload`), when the BMC needs it. */
    transferMethod?: 'Stream' | 'Upload';
  };
  /** PATCH `{Image, Inserted}` on the VirtualMedia resource when it has no Insert/Eject actions. */
  virtualMediaPatchFallback: boolean;
  /** A VirtualMedia slot with `ConnectedVia: NotConnected` is empty even if it still reports an `Image`. */
  notConnectedMeansEmpty: boolean;
  /** How to make the next boot(s) come from the virtual CD. */
  virtualCdBoot:
    | { kind: 'standard'; target: 'Cd' }
    | {
        /** Dell: OEM ImportSystemConfiguration on the Manager setting iDRAC `ServerBoot.1` attributes. */
        kind: 'dell-scp';
        device: string;
        actionSuffix: string;
        fallbackActionPath: string;
      };
  bootOverride: {
    /** `reliable`: the BMC reports `BootSourceOverrideEnabled` as written; `unreported`: it does not (skip that field when verifying). */
    enabledReadBack: 'reliable' | 'unreported';
    /** Clearing also writes `BootSourceOverrideTarget: None` (needed when Enabled is not honoured). */
    clearWithTargetNone: boolean;
  };
  /** Send `If-Match` with the last ETag on PATCH. When true and the BMC returns no ETag header, use `@odata.etag` from the body. */
  ifMatchOnPatch: boolean;
  /** Documented number of concurrent sessions; informational (the client shares one session per BMC and user). */
  sessionLimit?: number;
  /** ResetType preferences, first allowable wins. */
  resetTypes: {
    on: string[];
    gracefulOff: string[];
    forceOff: string[];
    reboot: string[];
  };
  /** Human-readable list of the deviations this profile models. */
  notes: string[];
}

const DMTF_RESET = {
  on: ['On', 'ForceOn'],
  gracefulOff: ['GracefulShutdown'],
  forceOff: ['ForceOff'],
  reboot: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
};

export const QUIRK_PROFILES: Record<QuirkProfileName, QuirkProfile> = {
  generic: {
    name: 'generic',
    description: 'DMTF Redfish as specified',
    match: {},
    // VirtualMedia moved from Manager to ComputerSystem in schema 2021.2; services may offer either.
    virtualMediaLocations: ['Systems', 'Managers'],
    insertMedia: { sendInsertedAndWriteProtected: true, transferProtocolType: 'when-required' },
    virtualMediaPatchFallback: true,
    notConnectedMeansEmpty: true,
    virtualCdBoot: { kind: 'standard', target: 'Cd' },
    bootOverride: { enabledReadBack: 'reliable', clearWithTargetNone: false },
    ifMatchOnPatch: true,
    resetTypes: DMTF_RESET,
    notes: [],
  },
  'dell-idrac': {
    name: 'dell-idrac',
    description: 'Dell iDRAC 8/9/10',
    match: { vendor: /^dell/i, oemKeys: ['Dell'], manufacturer: /^dell/i },
    // iDRAC9 >= 6.00 exposes VirtualMedia under Systems (Managers is deprecated); older firmware only under Managers.
    virtualMediaLocations: ['Systems', 'Managers'],
    insertMedia: { sendInsertedAndWriteProtected: true, transferProtocolType: 'when-required' },
    virtualMediaPatchFallback: false,
    notConnectedMeansEmpty: true,
    // `Cd` means the physical optical drive on iDRAC; the virtual CD is `VCD-DVD` in the OEM boot attributes.
    virtualCdBoot: {
      kind: 'dell-scp',
      device: 'VCD-DVD',
      actionSuffix: 'ImportSystemConfiguration',
      fallbackActionPath: '/Actions/Oem/EID_674_Manager.ImportSystemConfiguration',
    },
    bootOverride: { enabledReadBack: 'reliable', clearWithTargetNone: false },
    ifMatchOnPatch: true,
    sessionLimit: 8,
    resetTypes: DMTF_RESET,
    notes: [
      'virtual CD boot uses the OEM ImportSystemConfiguration (ServerBoot.1#FirstBootDevice=VCD-DVD): the standard Cd target boots the physical drive',
      'VirtualMedia under Systems on iDRAC9 >= 6.00, under Managers before',
      'session exhaustion answers 503 with IDRAC.2.x.RAC0218',
    ],
  },
  'hpe-ilo': {
    name: 'hpe-ilo',
    description: 'HPE iLO 5/6',
    match: { vendor: /^hpe?$/i, oemKeys: ['Hpe', 'Hp'], manufacturer: /^(hpe|hp)\b/i },
    virtualMediaLocations: ['Managers', 'Systems'],
    // iLO rejects TransferProtocolType on InsertMedia; Inserted/WriteProtected are accepted.
    insertMedia: { sendInsertedAndWriteProtected: true, transferProtocolType: 'when-required' },
    virtualMediaPatchFallback: true,
    notConnectedMeansEmpty: true,
    virtualCdBoot: { kind: 'standard', target: 'Cd' },
    bootOverride: { enabledReadBack: 'reliable', clearWithTargetNone: false },
    // iLO answers 412 to a stale If-Match; its ETags are weak (W/"...") and may only be in the body.
    ifMatchOnPatch: true,
    resetTypes: { ...DMTF_RESET, reboot: ['ForceRestart', 'GracefulRestart', 'PushPowerButton'] },
    notes: [
      'VirtualMedia under Managers (2 = CD/DVD)',
      'PATCH with If-Match from the last GET (weak ETags; @odata.etag when no header)',
      'the standard Cd override boots the virtual CD',
    ],
  },
  supermicro: {
    name: 'supermicro',
    description: 'Supermicro BMC (X11/X12/X13/H13)',
    match: { vendor: /^supermicro/i, oemKeys: ['Supermicro'], manufacturer: /^supermicro/i },
    virtualMediaLocations: ['Managers', 'Systems'],
    insertMedia: { sendInsertedAndWriteProtected: false, transferProtocolType: 'always' },
    virtualMediaPatchFallback: false,
    notConnectedMeansEmpty: true,
    virtualCdBoot: { kind: 'standard', target: 'Cd' },
    bootOverride: { enabledReadBack: 'reliable', clearWithTargetNone: false },
    ifMatchOnPatch: true,
    sessionLimit: 4,
    resetTypes: DMTF_RESET,
    notes: [
      'InsertMedia takes Image + TransferProtocolType only (rejects Inserted/WriteProtected)',
      'an Image with ConnectedVia=NotConnected is an empty slot',
      'few concurrent sessions: one shared session per BMC and user, basic auth when exhausted',
      'pre-X11 boards (Oem.Supermicro VM1/CfgCD mounting) are not supported',
    ],
  },
  'sushy-emulator': {
    name: 'sushy-emulator',
    description: 'OpenStack sushy-tools Redfish emulator',
    match: { serviceName: /^redvirt/i, manufacturer: /^sushy emulator/i },
    virtualMediaLocations: ['Systems', 'Managers'],
    insertMedia: { sendInsertedAndWriteProtected: true, transferProtocolType: 'when-required' },
    virtualMediaPatchFallback: false,
    notConnectedMeansEmpty: false,
    virtualCdBoot: { kind: 'standard', target: 'Cd' },
    bootOverride: { enabledReadBack: 'unreported', clearWithTargetNone: true },
    ifMatchOnPatch: false,
    resetTypes: DMTF_RESET,
    notes: [
      'no SessionService: HTTP basic auth only',
      'BootSourceOverrideEnabled always reads back Continuous: not verified',
      'clearing the override writes BootSourceOverrideTarget=None',
    ],
  },
};

export interface QuirkEvidence {
  vendor?: string | null;
  oemKeys?: string[];
  manufacturer?: string | null;
  serviceName?: string[];
}

/** Picks the profile for a BMC from what its service root and system say; generic when nothing matches. */
export function selectQuirkProfile(evidence: QuirkEvidence): QuirkProfile {
  const order: QuirkProfileName[] = ['dell-idrac', 'hpe-ilo', 'supermicro', 'sushy-emulator'];
  for (const name of order) {
    const { match } = QUIRK_PROFILES[name];
    if (match.vendor && evidence.vendor && match.vendor.test(evidence.vendor)) return QUIRK_PROFILES[name];
    if (match.oemKeys && evidence.oemKeys?.some((k) => match.oemKeys!.includes(k))) return QUIRK_PROFILES[name];
    if (match.manufacturer && evidence.manufacturer && match.manufacturer.test(evidence.manufacturer.trim())) return QUIRK_PROFILES[name];
    if (match.serviceName && evidence.serviceName?.some((s) => match.serviceName!.test(s))) return QUIRK_PROFILES[name];
  }
  return QUIRK_PROFILES.generic;
}

/** `TransferProtocolType` for an image URL (Redfish enum values). */
export function transferProtocolFor(image: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(image)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'http':
      return 'HTTP';
    case 'https':
      return 'HTTPS';
    case 'nfs':
      return 'NFS';
    case 'cifs':
    case 'smb':
      return 'CIFS';
    case 'ftp':
      return 'FTP';
    case 'sftp':
      return 'SFTP';
    case 'tftp':
      return 'TFTP';
    case 'scp':
      return 'SCP';
    default:
      return undefined;
  }
}
