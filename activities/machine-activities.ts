// Machine activities: each one thin, idempotent and with one side effect. Clients are injected.
import type { MikroORM } from '@mikro-orm/postgresql';
import { HangarError } from '../domain/errors.ts';
import type { DiskInput, MachineSpec, MachineState, ProviderName, TemplateInput } from '../domain/machine.ts';
import { Disk, Machine, Network, Template, type IDisk } from '../db/entities/index.ts';
import type { AttachedDisk, CloudInitSeed, Hypervisor, TemplateRef, VmSpec } from '../providers/hypervisor.ts';
import type { BootDiagnosis } from '../domain/boot.ts';
import { renderMetaData, renderNetworkConfig, renderUserData } from '../domain/cloud-init.ts';
import { cloudInitMachineFromRow, phoneHomeUrlFor, seedMachineById } from '../db/repositories/metadata.ts';
import { allocateLease, releaseLease } from '../db/repositories/leases.ts';
import { checkBootImage } from '../providers/redfish/boot-image.ts';
import { redactUrl } from '../domain/logging.ts';
import { cancellable, heartbeatIfInActivity, withFailureMapping } from './failures.ts';

export interface MachineActivityDeps {
  orm: MikroORM;
  providers: Partial<Record<ProviderName, Hypervisor>>;
  /** api.publicUrl: where machines reach the metadata service. */
  publicUrl?: string;
  /** Per provider, the base URL its guests reach Hangar at when it is not publicUrl (QEMU user-mode: 10.0.2.2). */
  guestMetadataUrl?: Partial<Record<ProviderName, string>>;
}

const vmSpec = (spec: MachineSpec, cloudInit?: CloudInitSeed): VmSpec => ({
  machineId: spec.machineId,
  name: spec.name,
  cpu: spec.cpu,
  memoryMb: spec.memoryMb,
  diskGb: spec.diskGb,
  ...(spec.template ? { template: spec.template } : {}),
  ...(spec.cloneMode ? { cloneMode: spec.cloneMode } : {}),
  ...(spec.node ? { node: spec.node } : {}),
  ...(spec.vmid ? { vmid: spec.vmid } : {}),
  ...(cloudInit ? { cloudInit } : {}),
});

/** Locally administered, unicast (52:54:00 is QEMU's prefix; Proxmox uses BC:24:11). */
function randomMac(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(3));
  return ['52', '54', '00', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function createMachineActivities(deps: MachineActivityDeps) {
  const hypervisor = (name: ProviderName): Hypervisor => {
    const h = deps.providers[name];
    if (!h) throw new HangarError('unprocessable', `provider "${name}" is not enabled on this worker`);
    return h;
  };

  /** The machine's NoCloud seed and NIC list, rendered from its record (create and configure share it). */
  async function renderSeed(spec: MachineSpec): Promise<{ seed: CloudInitSeed; nics: VmSpec['nics'] }> {
    const em = deps.orm.em.fork();
    const row = await seedMachineById(em, spec.machineId, { keys: true, network: true });
    if (!row) throw new HangarError('not_found', `machine ${spec.machineId} does not exist`);
    const publicBase = (deps.publicUrl ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    const base = (deps.guestMetadataUrl?.[spec.provider] ?? publicBase).replace(/\/+$/, '');
    if (base !== publicBase) {
      await em
        .getConnection()
        .execute(`update machine set access = coalesce(access, '{}'::jsonb) || jsonb_build_object('metadata_url', ?::text) where id = ?`, [
          base,
          spec.machineId,
        ]);
      row.metadata_base = base;
    }
    const machine = cloudInitMachineFromRow(row);
    const seed: CloudInitSeed = {
      mode: spec.cloudInitMode ?? 'iso',
      metaData: renderMetaData(machine),
      userData: renderUserData(machine, { phoneHomeUrl: phoneHomeUrlFor(row, base) }),
      networkConfig: renderNetworkConfig(machine),
      seedUrl: `${base}/cloud-init/${row.id}/${row.metadata_token}/`,
      native: {
        sshKeys: row.ssh_keys,
        ipconfig0: machine.network
          ? `ip=${machine.network.address}/${machine.network.prefix}${machine.network.gateway ? `,gw=${machine.network.gateway}` : ''}`
          : 'ip=dhcp',
        nameservers: machine.network?.dns ?? [],
        searchDomains: machine.network?.searchDomains ?? [],
      },
    };
    const nics =
      spec.networkId || spec.mac || spec.bridge
        ? [
            {
              ...((row.lease_mac ?? spec.mac) ? { mac: (row.lease_mac ?? spec.mac)! } : {}),
              ...(spec.bridge ? { bridge: spec.bridge } : {}),
              ...(spec.vlan ? { vlan: spec.vlan } : {}),
            },
          ]
        : undefined;
    return { seed, nics };
  }

  return withFailureMapping({
    /** Records the machine's lifecycle state; setting the current state again changes nothing. */
    async setMachineState(machineId: string, state: MachineState, lastError: string | null = null): Promise<void> {
      const em = deps.orm.em.fork();
      const machine = await em.findOne(Machine, { id: machineId });
      if (!machine) throw new HangarError('not_found', `machine ${machineId} does not exist`);
      machine.state = state;
      machine.lastError = lastError;
      // Ready means started and (for real machines) phoned home.
      if (state === 'ready') machine.powerState = 'running';
      await em.flush();
    },

    /**
     * Reserves the machine's address in its network: the live lease it already holds there, or the
     * lowest free one with a MAC. `created` says whether this call made it (then it is ours to release).
     */
    async reserveLease(machineId: string, networkId: string, mac: string | null): Promise<{ address: string; mac: string; created: boolean }> {
      const em = deps.orm.em.fork();
      const [held] = await em
        .getConnection()
        .execute<{ address: string; mac: string | null }[]>(
          `select host(address) as address, mac::text as mac from ip_lease where machine_id = ? and network_id = ? and state <> 'released' order by created_at limit 1`,
          [machineId, networkId],
        );
      if (held) {
        if (held.mac) return { address: held.address, mac: held.mac, created: false };
        const chosen = mac ?? randomMac();
        await em
          .getConnection()
          .execute(`update ip_lease set mac = ?::macaddr, updated_at = now() where machine_id = ? and network_id = ? and address = ?::inet`, [
            chosen,
            machineId,
            networkId,
            held.address,
          ]);
        return { address: held.address, mac: chosen, created: false };
      }
      const network = await em.findOne(Network, { id: networkId });
      if (!network) throw new HangarError('not_found', `network ${networkId} does not exist`);
      const lease = await allocateLease(em, network, { machineId, mac: mac ?? randomMac(), state: 'reserved' });
      return { address: lease.address, mac: lease.mac!, created: true };
    },

    async releaseMachineLease(machineId: string, networkId: string): Promise<void> {
      const em = deps.orm.em.fork();
      const rows = await em
        .getConnection()
        .execute<{ address: string }[]>(`select host(address) as address from ip_lease where machine_id = ? and network_id = ? and state <> 'released'`, [
          machineId,
          networkId,
        ]);
      for (const r of rows) await releaseLease(em, networkId, r.address);
    },

    async activateLease(machineId: string): Promise<void> {
      await deps.orm.em
        .fork()
        .getConnection()
        .execute(`update ip_lease set state = 'active', updated_at = now() where machine_id = ? and state = 'reserved'`, [machineId]);
    },

    async createVm(spec: MachineSpec): Promise<{ providerId: string }> {
      // Proxmox uploads a seed ISO while its clone runs (configure then finds it in storage).
      const early = spec.provider === 'proxmox' && (spec.cloudInitMode ?? 'iso') === 'iso' ? (await renderSeed(spec)).seed : undefined;
      const { providerId } = await hypervisor(spec.provider).create(vmSpec(spec, early), cancellable());
      const em = deps.orm.em.fork();
      await em.nativeUpdate(Machine, { id: spec.machineId }, { providerId });
      return { providerId };
    },

    /**
     * Renders the machine's NoCloud seed here (never in workflow history: it carries the machine's
     * metadata token) and applies the spec plus the seed to the VM.
     */
    async configureVm(spec: MachineSpec, providerId: string): Promise<void> {
      const h = hypervisor(spec.provider);
      if (spec.provider === 'dryrun') {
        await h.configure(providerId, vmSpec(spec), cancellable());
        return;
      }
      const { seed, nics } = await renderSeed(spec);
      await h.configure(providerId, { ...vmSpec(spec, seed), ...(nics ? { nics } : {}) }, cancellable());
    },

    async shutdownVm(provider: ProviderName, providerId: string, timeoutSec: number): Promise<void> {
      await hypervisor(provider).shutdown(providerId, timeoutSec, cancellable());
    },

    async recordPowerState(machineId: string, powerState: string): Promise<void> {
      await deps.orm.em.fork().nativeUpdate(Machine, { id: machineId }, { powerState });
    },

    async attachDisk(input: DiskInput): Promise<AttachedDisk> {
      return hypervisor(input.provider).attachDisk(
        input.providerId,
        { diskId: input.diskId, sizeGb: input.sizeGb, ...(input.storage ? { storage: input.storage } : {}) },
        cancellable(),
      );
    },

    async detachDisk(provider: ProviderName, providerId: string, diskId: string): Promise<{ detached: boolean }> {
      return hypervisor(provider).detachDisk(providerId, diskId, cancellable());
    },

    async setDiskState(diskId: string, state: IDisk['state'], change: { slot?: string; volume?: string; lastError?: string | null } = {}): Promise<void> {
      await deps.orm.em.fork().nativeUpdate(Disk, { id: diskId }, { state, ...change });
    },

    async deleteDiskRecord(diskId: string): Promise<void> {
      await deps.orm.em.fork().nativeDelete(Disk, { id: diskId });
    },

    async importTemplate(input: TemplateInput): Promise<TemplateRef> {
      if (input.provider === 'redfish') {
        // A bare-metal template is a URL the BMC mounts: check it answers (and matches its checksum).
        const checked = await checkBootImage(input.image, {
          ...(input.checksum ? { checksum: input.checksum } : {}),
          onProgress: (bytes) => heartbeatIfInActivity({ bytes }),
          ...cancellable(),
        });
        return { ref: redactUrl(checked.url), created: false };
      }
      return hypervisor(input.provider).importTemplate(
        {
          templateId: input.templateId,
          name: input.name,
          image: input.image,
          ...(input.checksum ? { checksum: input.checksum } : {}),
          ...(input.node ? { node: input.node } : {}),
          ...(input.storage ? { storage: input.storage } : {}),
          ...(input.vmid ? { vmid: input.vmid } : {}),
          ...(input.cpu ? { cpu: input.cpu } : {}),
          ...(input.memoryMb ? { memoryMb: input.memoryMb } : {}),
        },
        cancellable(),
      );
    },

    async deleteTemplate(provider: ProviderName, templateId: string): Promise<{ deleted: boolean }> {
      // Nothing of a bare-metal template lives anywhere but in its record.
      if (provider === 'redfish') return { deleted: false };
      return hypervisor(provider).deleteTemplate(templateId, cancellable());
    },

    async setTemplateState(
      templateId: string,
      state: 'creating' | 'ready' | 'failed' | 'deleting',
      change: { providerRef?: string; lastError?: string | null } = {},
    ): Promise<void> {
      await deps.orm.em.fork().nativeUpdate(Template, { id: templateId }, { state, ...change });
    },

    async deleteTemplateRecord(templateId: string): Promise<void> {
      await deps.orm.em.fork().nativeDelete(Template, { id: templateId });
    },

    async startVm(provider: ProviderName, providerId: string): Promise<void> {
      const h = hypervisor(provider);
      await h.start(providerId, cancellable());
      // How to reach it (forwarded SSH port) and how it runs (accelerator and why) change per start.
      const access = await h.access?.(providerId);
      if (access)
        await deps.orm.em
          .fork()
          .getConnection()
          .execute(`update machine set access = (coalesce(access, '{}'::jsonb) - 'ssh_host' - 'ssh_port') || ?::jsonb where provider = ? and provider_id = ?`, [
            JSON.stringify(access),
            provider,
            providerId,
          ]);
    },

    async stopVm(provider: ProviderName, providerId: string): Promise<void> {
      await hypervisor(provider).stop(providerId, cancellable());
    },

    async deleteVm(provider: ProviderName, machineId: string): Promise<{ deleted: boolean }> {
      return hypervisor(provider).delete(machineId, cancellable());
    },

    async vmStatus(provider: ProviderName, machineId: string) {
      return hypervisor(provider).status(machineId, cancellable());
    },

    /** The evidence for a phone-home timeout: which seed documents were fetched, and power state. */
    async diagnoseBoot(provider: ProviderName, machineId: string): Promise<BootDiagnosis> {
      const machine = await deps.orm.em.fork().findOne(Machine, { id: machineId });
      const status = await hypervisor(provider).status(machineId, cancellable());
      return {
        fetched: Object.keys(machine?.metadataFetches ?? {}).sort(),
        phonedHome: !!machine?.phonedHomeAt,
        powerState: status.powerState,
      };
    },

    /** Removes the inventory record; a record already gone is fine. */
    async deleteMachineRecord(machineId: string): Promise<void> {
      const em = deps.orm.em.fork();
      await em.nativeDelete(Machine, { id: machineId });
    },
  });
}

export type MachineActivities = ReturnType<typeof createMachineActivities>;
