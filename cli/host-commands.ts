// Bare-metal commands over the REST API: `hangar hosts ...` (register, inspect, power, provision,
// deprovision, force-release, maintenance) and `hangar clusters ...`. The BMC password never goes
// on the command line (argv is visible to every user of the machine): it comes from a file
// (--password-file), standard input (--password-stdin) or HANGAR_BMC_PASSWORD.
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { CliError, type ApiClient, type ApiFactory, type OperationRef } from './api-client.ts';
import { table } from './render.ts';
import { collect, oneOf } from './flags.ts';
import { emitList, fetchList, listOptions, type ListOpts } from './lists.ts';
import { fieldsTable, print } from './output.ts';
import { machineId } from './resolve.ts';
import { opsWatch } from './resource-commands.ts';

type Json = Record<string, unknown>;
interface HostJson {
  id: string;
  name: string;
  state: string;
  conditions: { type: string; status: string; reason: string; message: string }[];
  [k: string]: unknown;
}
interface ClusterJson {
  id: string;
  name: string;
  ready: boolean;
  control_plane_endpoint: { url: string } | null;
  machines: { name: string; role: string; state: string; addresses: string[] }[];
  [k: string]: unknown;
}

const enc = encodeURIComponent;

/** The password from a 0600 file, stdin or HANGAR_BMC_PASSWORD; never from argv. */
function readPassword(o: { passwordFile?: string; passwordStdin?: boolean }, required: boolean): string | undefined {
  if (o.passwordFile) {
    let mode: number;
    try {
      mode = statSync(o.passwordFile).mode;
    } catch {
      throw new CliError(`cannot read --password-file ${o.passwordFile}`, 2);
    }
    if ((mode & 0o077) !== 0)
      throw new CliError(`--password-file ${o.passwordFile} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`, 2);
    return readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
  }
  if (o.passwordStdin) return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (process.env.HANGAR_BMC_PASSWORD) return process.env.HANGAR_BMC_PASSWORD;
  if (required)
    throw new CliError('the BMC password is required: --password-file <0600 file>, --password-stdin or HANGAR_BMC_PASSWORD (never on the command line)', 2);
  return undefined;
}

async function watchOrPrint(
  api: ApiClient,
  body: { operation: OperationRef | null; [k: string]: unknown },
  o: { wait?: boolean; json?: boolean },
  accepted: string,
) {
  if (o.json && !o.wait) return print(body);
  if (!o.json) {
    console.log(body.operation ? `${accepted}; operation ${body.operation.id}` : accepted);
    if (body.operation && !o.wait) console.log(`  watch: hangar ops watch ${body.operation.id}`);
  }
  if (o.wait && body.operation) await opsWatch(api, body.operation.id, { json: o.json });
}

const conditionSummary = (h: HostJson) =>
  h.conditions
    .filter((c) => c.status !== 'True' || c.type === 'bmc_reachable')
    .map((c) => `${c.type}=${c.status}`)
    .join(' ');

// ---------------------------------------------------------------------------------------------
// hosts

interface HostWriteOpts {
  bmcAddress?: string;
  username?: string;
  passwordFile?: string;
  passwordStdin?: boolean;
  caFile?: string;
  fingerprint?: string;
  insecure?: boolean;
  bootMac?: string;
  tag?: string[];
  description?: string;
  driftPolicy?: string;
}

function hostBody(o: HostWriteOpts, password: string | undefined): Json {
  const body: Json = {};
  if (o.bmcAddress !== undefined) body.bmc_address = o.bmcAddress;
  if (o.username !== undefined) body.username = o.username;
  if (password !== undefined) body.password = password;
  if (o.caFile !== undefined) body.ca_pem = readFileSync(o.caFile, 'utf8');
  if (o.fingerprint !== undefined) body.fingerprint = o.fingerprint;
  if (o.insecure) {
    process.stderr.write('warning: TLS verification of this BMC is disabled (--insecure): the connection and its credentials can be intercepted\n');
    body.verify_tls = false;
  }
  if (o.bootMac !== undefined) body.boot_mac = o.bootMac;
  if (o.tag !== undefined) body.tags = o.tag;
  if (o.description !== undefined) body.description = o.description;
  // `provider` clears the host's own policy: it follows drift.redfishPolicy again.
  if (o.driftPolicy !== undefined)
    body.drift_policy = oneOf('--drift-policy', o.driftPolicy, ['observe', 'remediate', 'provider'] as const) === 'provider' ? null : o.driftPolicy;
  return body;
}

export async function hostsRegister(api: ApiClient, o: HostWriteOpts & { name: string; wait?: boolean; json?: boolean }) {
  const body = { name: o.name, ...hostBody(o, readPassword(o, true)) };
  const { body: res } = await api.post<{ host: HostJson; operation: OperationRef | null }>('/api/v1/hosts', body);
  await watchOrPrint(api, res, o, `host ${res.host.name} (${res.host.id}) registered; inspecting`);
  if (o.wait && !o.json) {
    const { body: h } = await api.get<HostJson>(`/api/v1/hosts/${res.host.id}`);
    console.log(
      `${h.name}: ${h.state}, ${[h.vendor, h.model].filter(Boolean).join(' ') || 'unknown hardware'}, power ${String(h.power_state ?? '-')}; ${conditionSummary(h)}`,
    );
  }
}

export async function hostsList(api: ApiClient, o: ListOpts & { state?: string; tag?: string }) {
  const list = await fetchList<HostJson>(api, '/api/v1/hosts', { state: o.state, tag: o.tag }, o);
  emitList(list, o, () =>
    table(
      list.items.map((h) => ({ ...h, conditions: conditionSummary(h) })),
      ['name', 'state', 'power_state', 'vendor', 'model', 'bmc_address', 'claimed_by', 'conditions'],
    ),
  );
}

export async function hostsGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<HostJson>(`/api/v1/hosts/${enc(ref)}`);
  if (o.json) return print(body);
  const { conditions, operations, ...rest } = body;
  console.log(fieldsTable(rest));
  console.log('');
  console.log(table(conditions as unknown as Json[], ['type', 'status', 'reason', 'message', 'lastTransitionTime']));
  void operations;
}

export async function hostsUpdate(api: ApiClient, ref: string, o: HostWriteOpts & { json?: boolean }) {
  const body = hostBody(o, readPassword(o, false));
  if (!Object.keys(body).length) throw new CliError('nothing to change: give at least one option', 2);
  const { body: h } = await api.patch<HostJson>(`/api/v1/hosts/${enc(ref)}`, body);
  if (o.json) return print(h);
  console.log(`host ${h.name} updated`);
}

export async function hostsDelete(api: ApiClient, ref: string) {
  await api.delete(`/api/v1/hosts/${enc(ref)}`);
  console.log(`host ${ref} deleted`);
}

export async function hostsAction(
  api: ApiClient,
  ref: string,
  action: string,
  o: { wait?: boolean; json?: boolean; reason?: string; wipeImage?: string; wipeTimeout?: string },
) {
  const body: Json = {};
  if (o.reason) body.reason = o.reason;
  if (o.wipeImage) body.wipe_image_url = o.wipeImage;
  if (o.wipeTimeout) body.wipe_timeout = o.wipeTimeout;
  const { body: res } = await api.post<{ host: HostJson; operation: OperationRef | null }>(`/api/v1/hosts/${enc(ref)}/actions/${action}`, body);
  await watchOrPrint(api, res, o, `${action} of host ${res.host.name} accepted`);
}

export async function hostsMaintenance(api: ApiClient, ref: string, onOff: string, o: { json?: boolean }) {
  const which = oneOf('on|off', onOff, ['on', 'off'] as const);
  const { body } = await api.post<{ host: HostJson }>(`/api/v1/hosts/${enc(ref)}/actions/maintenance-${which}`, {});
  if (o.json) return print(body.host);
  console.log(`host ${body.host.name} is ${body.host.state}`);
}

export async function hostsProvision(
  api: ApiClient,
  o: {
    name: string;
    image?: string;
    template?: string;
    host?: string;
    tag?: string[];
    bootMode?: string;
    network?: string;
    sshKey?: string[];
    domain?: string;
    waitPhoneHome?: boolean;
    phoneHomeTimeout?: string;
    claimTimeout?: string;
    wait?: boolean;
    json?: boolean;
  },
) {
  if ((o.image === undefined) === (o.template === undefined)) throw new CliError('give either --image <url> or --template <name> (exactly one)', 2);
  const body: Json = { name: o.name, ...(o.image ? { image_url: o.image } : { template: o.template }) };
  if (o.host) body.host = o.host;
  if (o.tag?.length) body.tags = o.tag;
  if (o.bootMode) body.boot_mode = oneOf('--boot-mode', o.bootMode, ['UEFI', 'Legacy'] as const);
  if (o.network) body.network_id = o.network;
  if (o.sshKey?.length) body.ssh_key_ids = o.sshKey;
  if (o.domain) body.domain = o.domain;
  if (o.waitPhoneHome === false) body.wait_for_phone_home = false;
  if (o.phoneHomeTimeout) body.phone_home_timeout = o.phoneHomeTimeout;
  if (o.claimTimeout) body.claim_timeout = o.claimTimeout;
  const { body: res } = await api.post<{
    machine: { id: string; name: string };
    host: HostJson;
    seed_url: string;
    cidata_url: string;
    operation: OperationRef;
  }>('/api/v1/hosts/provision', body);
  if (!o.json) {
    console.log(`machine ${res.machine.name} (${res.machine.id}) on host ${res.host.name}`);
    console.log(`  NoCloud seed URL (put it on the image's kernel command line as ds=nocloud;s=<url>): ${res.seed_url}`);
    console.log(`  the same seed as a cidata ISO (for virtual media or a second disk): ${res.cidata_url}`);
  }
  await watchOrPrint(api, res, o, 'provisioning');
}

// ---------------------------------------------------------------------------------------------
// clusters

export async function clustersCreate(
  api: ApiClient,
  o: { name: string; vip?: string; port?: string; controlPlane?: string[]; worker?: string[]; json?: boolean },
) {
  const machines = [
    ...(await Promise.all((o.controlPlane ?? []).map(async (m) => ({ machine_id: await machineId(api, m), role: 'control-plane' })))),
    ...(await Promise.all((o.worker ?? []).map(async (m) => ({ machine_id: await machineId(api, m), role: 'worker' })))),
  ];
  const body: Json = { name: o.name, machines };
  if (o.vip) body.control_plane_vip = o.vip;
  if (o.port) {
    if (!/^\d+$/.test(o.port) || Number(o.port) < 1 || Number(o.port) > 65535) throw new CliError(`--port must be 1-65535, got "${o.port}"`, 2);
    body.control_plane_port = Number(o.port);
  }
  const { body: c } = await api.post<ClusterJson>('/api/v1/clusters', body);
  if (o.json) return print(c);
  printCluster(c);
}

function printCluster(c: ClusterJson) {
  console.log(`${c.name}: ${c.ready ? 'ready' : 'not ready'}; control plane ${c.control_plane_endpoint?.url ?? '(none yet)'}`);
  const cond = (c.conditions as { reason: string; message: string }[] | undefined)?.[0];
  if (cond) console.log(`  ${cond.reason}: ${cond.message}`);
  console.log(
    table(
      c.machines.map((m) => ({ ...m, addresses: m.addresses.join(', ') })),
      ['name', 'role', 'state', 'addresses'],
    ),
  );
}

export async function clustersList(api: ApiClient, o: ListOpts) {
  const list = await fetchList<ClusterJson>(api, '/api/v1/clusters', {}, o);
  emitList(list, o, () =>
    table(
      list.items.map((c) => ({ name: c.name, ready: c.ready, endpoint: c.control_plane_endpoint?.url ?? null, machines: c.machines.length })),
      ['name', 'ready', 'endpoint', 'machines'],
    ),
  );
}

export async function clustersGet(api: ApiClient, ref: string, o: { json?: boolean }) {
  const { body } = await api.get<ClusterJson>(`/api/v1/clusters/${enc(ref)}`);
  if (o.json) return print(body);
  printCluster(body);
}

export async function clustersAddMachine(api: ApiClient, ref: string, machine: string, o: { role: string; json?: boolean }) {
  const role = oneOf('--role', o.role, ['control-plane', 'worker'] as const);
  const { body } = await api.post<ClusterJson>(`/api/v1/clusters/${enc(ref)}/machines`, { machine_id: await machineId(api, machine), role });
  if (o.json) return print(body);
  printCluster(body);
}

export async function clustersRemoveMachine(api: ApiClient, ref: string, machine: string, o: { json?: boolean }) {
  const id = await machineId(api, machine);
  const { body } = await api.delete<ClusterJson>(`/api/v1/clusters/${enc(ref)}/machines/${id}`);
  if (o.json) return print(body);
  printCluster(body);
}

export async function clustersDelete(api: ApiClient, ref: string) {
  await api.delete(`/api/v1/clusters/${enc(ref)}`);
  console.log(`cluster ${ref} deleted`);
}

// ---------------------------------------------------------------------------------------------

const hostWriteOptions = (c: Command) =>
  c
    .option('--bmc-address <url>', 'redfish+https://bmc[:port]/redfish/v1/Systems/<id> (system path optional: discovered)')
    .option('--username <name>', 'BMC user')
    .option('--password-file <path>', 'file (mode 0600) holding the BMC password')
    .option('--password-stdin', 'read the BMC password from standard input')
    .option('--ca-file <pem>', 'CA certificate(s) to verify the BMC with')
    .option('--fingerprint <sha256>', 'pinned SHA-256 certificate fingerprint')
    .option('--insecure', 'do not verify the BMC certificate (explicit, warned opt-in)')
    .option('--boot-mac <mac>', 'MAC of the NIC the host boots and is addressed on')
    .option('--tag <tag>', 'tag (repeatable)', collect)
    .option('--description <text>')
    .option('--drift-policy <policy>', 'observe, remediate, or provider (follow drift.redfishPolicy)');

export function registerHostCommands(program: Command, api: ApiFactory): void {
  const hosts = program.command('hosts').alias('host').description('bare-metal hosts behind Redfish BMCs');
  hostWriteOptions(hosts.command('register').alias('create').description('register a host (the BMC is inspected)').requiredOption('--name <name>'))
    .option('--wait', 'wait for the inspection')
    .option('--json')
    .action((o) => hostsRegister(api(), o));
  listOptions(hosts.command('list').option('--state <state>').option('--tag <tag>')).action((o) => hostsList(api(), o));
  hosts
    .command('get')
    .argument('<id-or-name>')
    .option('--json')
    .action((ref: string, o) => hostsGet(api(), ref, o));
  hostWriteOptions(hosts.command('update').argument('<id-or-name>'))
    .option('--json')
    .action((ref: string, o) => hostsUpdate(api(), ref, o));
  hosts
    .command('delete')
    .alias('rm')
    .argument('<id-or-name>')
    .action((ref: string) => hostsDelete(api(), ref));
  for (const action of ['inspect', 'power-on', 'power-off', 'reboot'] as const) {
    hosts
      .command(action)
      .argument('<id-or-name>')
      .option('--wait')
      .option('--json')
      .action((ref: string, o) => hostsAction(api(), ref, action, o));
  }
  hosts
    .command('deprovision')
    .description('power off, eject, clear the boot override (optionally wipe) and release')
    .argument('<id-or-name>')
    .option('--wipe-image <url>', 'boot this image and wait for it to power the host off')
    .option('--wipe-timeout <duration>', 'how long the wipe may take (default 4h)')
    .option('--wait')
    .option('--json')
    .action((ref: string, o) => hostsAction(api(), ref, 'deprovision', o));
  hosts
    .command('force-release')
    .description('admin: cancel what runs on the host, clean up what can be, release it')
    .argument('<id-or-name>')
    .option('--reason <text>')
    .option('--wait')
    .option('--json')
    .action((ref: string, o) => hostsAction(api(), ref, 'force-release', o));
  hosts
    .command('maintenance')
    .argument('<id-or-name>')
    .argument('<on|off>')
    .option('--json')
    .action((ref: string, onOff: string, o) => hostsMaintenance(api(), ref, onOff, o));
  hosts
    .command('provision')
    .description('claim a host (by --host, --tag, or any available) and install it as a machine')
    .requiredOption('--name <machine-name>')
    .option('--image <url>', 'installer or live image the BMC mounts as virtual media')
    .option('--template <name>', 'a redfish template whose image the BMC mounts (instead of --image)')
    .option('--host <id-or-name>')
    .option('--tag <tag>', 'claim a host with this tag (repeatable: all of them)', collect)
    .option('--boot-mode <mode>', 'UEFI or Legacy')
    .option('--network <id>', 'network to lease the address in')
    .option('--ssh-key <id>', 'SSH key id (repeatable)', collect)
    .option('--domain <domain>')
    .option('--no-wait-phone-home', 'do not wait for the installed system to phone home')
    .option('--phone-home-timeout <duration>', 'e.g. 45m')
    .option('--claim-timeout <duration>', 'with no host free, keep trying this long (at most 10m) before failing')
    .option('--wait')
    .option('--json')
    .action((o) => hostsProvision(api(), o));

  const clusters = program.command('clusters').alias('cluster').description('clusters of machines');
  clusters
    .command('create')
    .requiredOption('--name <name>')
    .option('--vip <address>', 'explicit control-plane VIP')
    .option('--port <n>', 'control-plane port (default 6443)')
    .option('--control-plane <machine>', 'control-plane machine (repeatable)', collect)
    .option('--worker <machine>', 'worker machine (repeatable)', collect)
    .option('--json')
    .action((o) => clustersCreate(api(), o));
  listOptions(clusters.command('list')).action((o) => clustersList(api(), o));
  clusters
    .command('get')
    .argument('<id-or-name>')
    .option('--json')
    .action((ref: string, o) => clustersGet(api(), ref, o));
  clusters
    .command('add-machine')
    .argument('<cluster>')
    .argument('<machine>')
    .requiredOption('--role <role>', 'control-plane or worker')
    .option('--json')
    .action((ref: string, m: string, o) => clustersAddMachine(api(), ref, m, o));
  clusters
    .command('remove-machine')
    .argument('<cluster>')
    .argument('<machine>')
    .option('--json')
    .action((ref: string, m: string, o) => clustersRemoveMachine(api(), ref, m, o));
  clusters
    .command('delete')
    .alias('rm')
    .argument('<id-or-name>')
    .action((ref: string) => clustersDelete(api(), ref));
}
