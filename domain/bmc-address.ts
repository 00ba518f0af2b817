// Where a host's BMC is: the redfish+http(s):// address a user gives, parsed into endpoint and system.
import { HangarError } from './errors.ts';

export interface BmcAddress {
  /** `https://host[:port]` (or `http://` for emulators). */
  endpoint: string;
  /** `/redfish/v1/Systems/<id>`; absent: discovered (the BMC must manage exactly one system). */
  systemPath?: string;
  insecureTransport: boolean;
}

const BMC_ADDRESS = /^redfish\+(https?):\/\/([^/\s?#@]+)(\/redfish\/v1\/Systems\/([^/\s?#]+)\/?|\/redfish\/v1\/?|\/?)$/;

/**
 * `redfish+https://bmc.example[:port]/redfish/v1/Systems/<id>`, or without the system path
 * (discovery). `redfish+http://` is accepted for emulators; credentials in the URL are refused.
 */
export function parseBmcAddress(address: string): BmcAddress {
  const m = BMC_ADDRESS.exec(address.trim());
  if (!m) {
    if (/^redfish\+https?:\/\/[^/]*@/.test(address)) {
      throw new HangarError('validation_failed', 'credentials go in username/password, never in bmc_address', { bmc_address: 'contains credentials' });
    }
    throw new HangarError(
      'validation_failed',
      'bmc_address must look like redfish+https://bmc.example[:port]/redfish/v1/Systems/<id> (or without the system path to discover it)',
      { bmc_address: 'invalid' },
    );
  }
  const [, scheme, authority, , systemId] = m;
  let url: URL;
  try {
    url = new URL(`${scheme}://${authority}`);
  } catch {
    throw new HangarError('validation_failed', 'bmc_address has an invalid host or port', { bmc_address: 'invalid host' });
  }
  return {
    endpoint: url.origin,
    ...(systemId ? { systemPath: `/redfish/v1/Systems/${systemId}` } : {}),
    insecureTransport: scheme === 'http',
  };
}
