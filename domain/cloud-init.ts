// Renders the four NoCloud documents (meta-data, user-data, vendor-data, network-config) that
// Hangar serves over HTTP and writes onto cidata ISOs. Pure: no I/O.
//
// Every document is emitted as YAML 1.1 because cloud-init reads it with PyYAML (YAML 1.1):
// a 1.2 writer would leave e.g. the MAC 52:54:00:12:34:56 unquoted, which PyYAML reads as a
// base-60 integer, and a host called `on` or `no` as a boolean.
import { stringify } from 'yaml';
import { HangarError } from './errors.ts';

export interface CloudInitNetwork {
  mac?: string | null;
  address: string;
  prefix: number;
  version: 4 | 6;
  gateway?: string | null;
  dns: string[];
  searchDomains: string[];
}

export interface CloudInitMachine {
  id: string;
  name: string;
  domain?: string | null;
  /** authorized_keys lines */
  sshKeys: string[];
  /** the login user Hangar creates; 'hangar' when absent */
  defaultUser?: string;
  userDataExtras?: Record<string, unknown> | null;
  network?: CloudInitNetwork | null;
}

export interface UserDataOptions {
  phoneHomeUrl: string;
}

export type SeedFileName = 'meta-data' | 'user-data' | 'vendor-data' | 'network-config';
export type CloudInitSeed = Record<SeedFileName, string>;

export const DEFAULT_USER = 'hangar';
/** The NIC id used in network-config; also its name when the MAC is known (set-name). */
export const NIC_ID = 'eth0';
/**
 * Without a MAC the NIC is matched by name. `e*` covers both classic (eth0) and predictable
 * (ens18, enp1s0) names; it assumes the single-NIC machines Hangar builds today.
 */
export const NIC_NAME_GLOB = 'e*';

/**
 * Keys that Hangar owns in user-data. Extras can never replace or remove them:
 *  - hostname, fqdn, preserve_hostname, phone_home: an extra value is ignored (dropped);
 *  - users, ssh_authorized_keys: extra entries are appended after Hangar's own, so the
 *    machine's user, its keys and phone_home always survive. An extra users entry that is
 *    'default' or redefines Hangar's user is dropped (cloud-init would let a later entry for
 *    the same name replace the earlier one).
 */
export const PROTECTED_USER_DATA_KEYS = ['hostname', 'fqdn', 'preserve_hostname', 'phone_home', 'users', 'ssh_authorized_keys'] as const;

const YAML_OPTS = { version: '1.1', lineWidth: 0 } as const;

function yaml(doc: unknown): string {
  return stringify(doc, YAML_OPTS);
}

export function instanceId(m: Pick<CloudInitMachine, 'id'>): string {
  return `hangar-${m.id}`;
}

export function fqdnOf(m: Pick<CloudInitMachine, 'name' | 'domain'>): string | null {
  const domain = m.domain?.replace(/^\.+|\.+$/g, '');
  return domain ? `${m.name}.${domain}` : null;
}

export function renderMetaData(m: CloudInitMachine): string {
  return yaml({ 'instance-id': instanceId(m), 'local-hostname': m.name });
}

export function renderUserData(m: CloudInitMachine, opts: UserDataOptions): string {
  validatePhoneHomeUrl(opts.phoneHomeUrl);
  const extras = checkExtras(m.userDataExtras);
  const userName = m.defaultUser ?? DEFAULT_USER;
  // Each key becomes one authorized_keys line; an embedded newline would smuggle in another.
  const bad = m.sshKeys.find((k) => /[\r\n]/.test(k) || !k.trim());
  if (bad !== undefined) throw new HangarError('invalid_ssh_key', 'an SSH key must be one non-empty authorized_keys line');
  const keys = [...m.sshKeys];
  const fqdn = fqdnOf(m);

  const ownUser = {
    name: userName,
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    shell: '/bin/bash',
    lock_passwd: true,
    ssh_authorized_keys: keys,
  };
  const extraUsers = ((extras.users as unknown[] | undefined) ?? []).filter((u) => {
    const name = typeof u === 'string' ? u : (u as Record<string, unknown>).name;
    return name !== 'default' && name !== userName;
  });
  const extraKeys = ((extras.ssh_authorized_keys as string[] | undefined) ?? []).filter((k) => !keys.includes(k));

  // Protected keys come only from Hangar (plus the appended users/keys above); phone_home is
  // written last so no extra key can shadow it.
  const unprotected = Object.entries(extras).filter(([k]) => !(PROTECTED_USER_DATA_KEYS as readonly string[]).includes(k));
  const doc: Record<string, unknown> = Object.fromEntries([
    ['hostname', m.name],
    ...(fqdn ? [['fqdn', fqdn]] : []),
    ['preserve_hostname', false],
    ['users', ['default', ownUser, ...extraUsers]],
    ['ssh_authorized_keys', [...keys, ...extraKeys]],
    ...unprotected,
    ['phone_home', { url: opts.phoneHomeUrl, post: ['instance_id', 'hostname', 'fqdn'], tries: 10 }],
  ]);
  return `#cloud-config\n${yaml(doc)}`;
}

/** Hangar sends nothing as vendor-data; an empty cloud-config is what cloud-init accepts. */
export function renderVendorData(): string {
  return '#cloud-config\n{}\n';
}

export function renderNetworkConfig(m: Pick<CloudInitMachine, 'network'>): string {
  const n = m.network;
  const mac = n?.mac ? normalizeMac(n.mac) : null;
  const nic: Record<string, unknown> = mac ? { match: { macaddress: mac }, 'set-name': NIC_ID } : { match: { name: NIC_NAME_GLOB } };
  if (!n) {
    nic.dhcp4 = true;
  } else {
    checkNetwork(n);
    nic.addresses = [`${n.address}/${n.prefix}`];
    // Default route, written so that cloud-init 22.4 (Debian 12) renders it right for every
    // backend, not just netplan: it rejects `to: default` outright, and turns `to: ::/0` into
    // `::/64` for networkd/ENI (it drops the falsy prefix 0). So IPv4 uses `to: 0.0.0.0/0` and
    // IPv6 the older `gateway6` key, which netplan still accepts and every renderer maps right.
    if (n.gateway) {
      if (n.version === 6) nic.gateway6 = n.gateway;
      else nic.routes = [{ to: '0.0.0.0/0', via: n.gateway }];
    }
    if (n.dns.length || n.searchDomains.length) {
      nic.nameservers = {
        ...(n.dns.length ? { addresses: n.dns } : {}),
        ...(n.searchDomains.length ? { search: n.searchDomains } : {}),
      };
    }
  }
  return yaml({ version: 2, ethernets: { [NIC_ID]: nic } });
}

export function renderSeed(m: CloudInitMachine, opts: UserDataOptions): CloudInitSeed {
  return {
    'meta-data': renderMetaData(m),
    'user-data': renderUserData(m, opts),
    'vendor-data': renderVendorData(),
    'network-config': renderNetworkConfig(m),
  };
}

function validatePhoneHomeUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HangarError('validation_failed', `phone_home URL is not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HangarError('validation_failed', `phone_home URL must be http(s): ${url}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

// Extras end up as YAML that cloud-init parses, so only JSON-shaped values are allowed.
function assertJsonShaped(v: unknown, path: string, depth: number): void {
  if (depth > 32) throw new HangarError('validation_failed', `user-data extras nest too deeply at ${path}`);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return;
    throw new HangarError('validation_failed', `user-data extras: ${path} is not a finite number`);
  }
  if (Array.isArray(v)) {
    for (const [i, item] of v.entries()) assertJsonShaped(item, `${path}[${i}]`, depth + 1);
    return;
  }
  if (isPlainObject(v)) {
    for (const [k, item] of Object.entries(v)) assertJsonShaped(item, `${path}.${k}`, depth + 1);
    return;
  }
  throw new HangarError('validation_failed', `user-data extras: ${path} is not a JSON value`);
}

function checkExtras(extras: unknown): Record<string, unknown> {
  if (extras === undefined || extras === null) return {};
  if (!isPlainObject(extras)) {
    throw new HangarError('validation_failed', 'user-data extras must be a plain object', { userDataExtras: 'must be an object' });
  }
  assertJsonShaped(extras, 'userDataExtras', 0);
  const users = extras.users;
  if (users !== undefined) {
    if (!Array.isArray(users) || !users.every((u) => typeof u === 'string' || isPlainObject(u))) {
      throw new HangarError('validation_failed', 'user-data extras: users must be a list of names or objects', { 'userDataExtras.users': 'must be a list' });
    }
  }
  const keys = extras.ssh_authorized_keys;
  if (keys !== undefined && (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && !/[\r\n]/.test(k)))) {
    throw new HangarError('validation_failed', 'user-data extras: ssh_authorized_keys must be a list of strings', {
      'userDataExtras.ssh_authorized_keys': 'must be a list of strings',
    });
  }
  return extras;
}

function normalizeMac(mac: string): string {
  const m = mac.trim().toLowerCase().replace(/-/g, ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(m)) {
    throw new HangarError('validation_failed', `not a MAC address: ${mac}`, { 'network.mac': 'must be a MAC address' });
  }
  return m;
}

function checkNetwork(n: CloudInitNetwork): void {
  const max = n.version === 6 ? 128 : 32;
  if (!Number.isInteger(n.prefix) || n.prefix < 0 || n.prefix > max) {
    throw new HangarError('validation_failed', `prefix /${n.prefix} is not valid for IPv${n.version}`, { 'network.prefix': `must be 0-${max}` });
  }
  // Cheap family checks; real parsing belongs to IPAM, which produced these values.
  const looksV6 = (s: string) => s.includes(':');
  if (looksV6(n.address) !== (n.version === 6)) {
    throw new HangarError('validation_failed', `address ${n.address} is not IPv${n.version}`, { 'network.address': `must be IPv${n.version}` });
  }
  if (n.gateway && looksV6(n.gateway) !== (n.version === 6)) {
    throw new HangarError('validation_failed', `gateway ${n.gateway} is not IPv${n.version}`, { 'network.gateway': `must be IPv${n.version}` });
  }
}
