// Address scopes (VRFs): independent address spaces for pools. Siblings never overlap within a
// scope, while two scopes may hold the same CIDR (docs/decisions/0022). The global scope is the
// default every pool belongs to unless placed elsewhere, so installations without scopes behave
// as before.
import { isRegionOf, type CloudProvider } from './accounts.ts';

/** The built-in default scope: a fixed id, so migrations and column defaults can name it. */
export const GLOBAL_SCOPE_ID = '00000000-0000-4000-8000-000000000000';
export const GLOBAL_SCOPE_NAME = 'global';

// AWS VPC ids (vpc- and 8 or 17 hex digits); GCP network names (RFC 1035 labels, up to 63).
const AWS_VPC = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const GCP_NETWORK = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface ScopeBinding {
  accountId: string | null;
  region: string | null;
  networkId: string | null;
}

/**
 * What is wrong with a binding, per field (empty: nothing). A scope is bound to nothing, to an
 * account (one address space for all its networks), or to one network of an account: an AWS VPC
 * (with its region) or a GCP VPC network (global, so without region).
 */
export function bindingProblems(binding: ScopeBinding, provider: CloudProvider | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!binding.accountId) {
    if (binding.region !== null) out.region = 'a region needs account_id';
    if (binding.networkId !== null) out.network_id = 'a network needs account_id';
    return out;
  }
  if (!provider) return out;
  if (binding.region !== null && binding.networkId === null) out.region = 'a region is given only with network_id';
  if (binding.networkId !== null) {
    if (provider === 'aws') {
      if (!AWS_VPC.test(binding.networkId)) out.network_id = 'an AWS VPC id is vpc- followed by 8 or 17 hex digits';
      if (binding.region === null) out.region = 'an AWS VPC needs its region';
    } else {
      if (!GCP_NETWORK.test(binding.networkId)) out.network_id = 'a GCP network name is 1-63 lowercase letters, digits or hyphens, starting with a letter';
      if (binding.region !== null) out.region = 'GCP VPC networks are global: give no region';
    }
  }
  if (binding.region !== null && !isRegionOf(provider, binding.region) && !out.region) {
    out.region = `"${binding.region}" is not a ${provider.toUpperCase()} region name`;
  }
  return out;
}
