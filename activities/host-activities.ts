// Bare-metal host activities: each one thin, idempotent and with one side effect, on one BMC (a
// Redfish client built per call from the host's sealed credentials, always closed so shared
// sessions go back to the BMC) or on the inventory. The password is opened here and handed to
// the client only; it never enters workflow history, logs or error messages.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { HangarError } from '../domain/errors.ts';
import type { ConditionUpdate, HostEvent } from '../domain/host-state.ts';
import { parseBmcAddress } from '../domain/bmc-address.ts';
import { normalisePowerState, type BootDiagnosis } from '../domain/boot.ts';
import { hostWorkflowIds } from '../workflows/contracts.ts';
import { openSecret } from '../domain/secrets.ts';
import type { HangarConfig } from '../domain/config.ts';
import { Host, Machine, type IHost } from '../db/entities/index.ts';
import { transitionHost, updateHostObservation, recordInspection } from '../db/repositories/hosts.ts';
import { releaseLease } from '../db/repositories/leases.ts';
import { sqlFor } from '../db/sql.ts';
import { redactUrl } from '../domain/logging.ts';
import { RedfishClient, type RedfishClientOptions, type RedfishInventory } from '../providers/redfish/index.ts';
import { sleep } from '../providers/support/sleep.ts';
import { activitySignal, cancellable, heartbeatIfInActivity, withFailureMapping } from './failures.ts';

/** What a Redfish client is built from; the factory adds the worker's settings (concurrency, polling, logger). */
export type RedfishConnection = Pick<
  RedfishClientOptions,
  'endpoint' | 'systemPath' | 'username' | 'password' | 'tls' | 'signal' | 'retry' | 'requestTimeoutMs'
>;
export type RedfishFactory = (conn: RedfishConnection) => RedfishClient;

export function redfishClientFactory(config: Pick<HangarConfig, 'redfish'>, logger: Logger): RedfishFactory {
  const log = logger.child({ provider: 'redfish' });
  return (conn) =>
    new RedfishClient({
      ...conn,
      maxConcurrency: config.redfish.maxConcurrencyPerBmc,
      pollIntervalMs: config.redfish.pollIntervalMs,
      hooks: { onWait: () => heartbeatIfInActivity() },
      logger: log,
    });
}

export interface HostActivityDeps {
  orm: MikroORM;
  /** Opens the sealed BMC passwords (domain/secrets.ts). */
  secretKey: Buffer;
  redfish: RedfishFactory;
  /** How long a power change may take (redfish.powerTimeoutSec). */
  powerTimeoutSec?: number;
}

/** BMC failures that say something about reachability (the bmc_reachable condition). */
const REACHABILITY_CODES = new Set(['bmc_unreachable', 'provider_auth_failed', 'tls_verification_failed', 'secret_key_mismatch']);

const REASONS: Record<string, string> = {
  bmc_unreachable: 'Unreachable',
  provider_auth_failed: 'AuthenticationFailed',
  tls_verification_failed: 'TlsVerificationFailed',
  secret_key_mismatch: 'CredentialsUnreadable',
  validation_failed: 'InvalidAddress',
};

const reachable = (message: string): ConditionUpdate => ({ type: 'bmc_reachable', status: 'True', reason: 'Reachable', message });

function unreachable(err: unknown): ConditionUpdate {
  const code = err instanceof HangarError ? err.code : 'provider_error';
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'bmc_reachable', status: 'False', reason: REASONS[code] ?? 'Error', message: `${code}: ${message}` };
}

/** A Redfish client for one host, its password opened only to hand it to the client. */
export function bmcClientFor(
  deps: Pick<HostActivityDeps, 'secretKey' | 'redfish'>,
  host: IHost,
  extra: Pick<RedfishConnection, 'signal' | 'retry' | 'requestTimeoutMs'> = {},
): RedfishClient {
  const address = parseBmcAddress(host.bmcAddress);
  const tls = {
    verify: host.verifyTls,
    ...(host.caPem ? { caPem: host.caPem } : {}),
    ...(host.fingerprint ? { fingerprint: host.fingerprint } : {}),
  };
  return deps.redfish({
    endpoint: address.endpoint,
    ...(address.systemPath ? { systemPath: address.systemPath } : {}),
    username: host.username,
    password: openSecret(deps.secretKey, host.passwordSealed, `host:${host.id}`),
    tls,
    ...extra,
  });
}

/** BMC failures that say something about reachability, as the bmc_reachable condition (the observer sets it too). */
export function bmcUnreachableCondition(err: unknown): ConditionUpdate {
  return unreachable(err);
}

export const bmcReachableCondition = reachable;

export interface HostPowerResult {
  powerState: string;
  changed: boolean;
}

export function createHostActivities(deps: HostActivityDeps) {
  const powerTimeoutSec = deps.powerTimeoutSec ?? 300;

  const loadHost = async (hostId: string): Promise<IHost> => {
    const host = await deps.orm.em.fork().findOne(Host, { id: hostId });
    if (!host) throw new HangarError('not_found', `host ${hostId} does not exist`);
    return host;
  };

  /** `cancel: 'finish'`: the client ignores the activity's cancellation (see hostInsertMedia). */
  const clientFor = (host: IHost, cancel: 'abort' | 'finish' = 'abort'): RedfishClient => bmcClientFor(deps, host, cancel === 'abort' ? cancellable() : {});

  /**
   * Runs one BMC operation: builds the client, records reachability (and the power state when the
   * operation reports one), and always closes the client.
   */
  async function withBmc<T>(
    hostId: string,
    fn: (client: RedfishClient, host: IHost) => Promise<T>,
    powerOf?: (result: T) => string | undefined,
    cancel: 'abort' | 'finish' = 'abort',
  ): Promise<T> {
    const host = await loadHost(hostId);
    let client: RedfishClient | undefined;
    try {
      client = clientFor(host, cancel);
      const result = await fn(client, host);
      const wasReachable = host.conditions.find((c) => c.type === 'bmc_reachable')?.status === 'True';
      const power = powerOf?.(result);
      if (!wasReachable || (power !== undefined && power !== host.powerState)) {
        await updateHostObservation(deps.orm.em, hostId, wasReachable ? [] : [reachable('the BMC answered')], power !== undefined ? { powerState: power } : {});
      }
      return result;
    } catch (err) {
      if (err instanceof HangarError && REACHABILITY_CODES.has(err.code)) {
        await updateHostObservation(deps.orm.em, hostId, [unreachable(err)]).catch(() => undefined);
      }
      throw err;
    } finally {
      await client?.close().catch(() => undefined);
    }
  }

  const setMachine = async (machineId: string, change: { state?: 'provisioning' | 'ready' | 'failed'; lastError?: string | null; powerState?: string }) => {
    await deps.orm.em.fork().nativeUpdate(Machine, { id: machineId }, { ...change, updatedAt: new Date() });
  };

  /** Releases every live lease of the machine (a failed or force-released host no longer uses them). */
  const releaseMachineLeases = async (machineId: string) => {
    const em = deps.orm.em.fork();
    const rows = await sqlFor(em)<{ network_id: string; address: string }[]>(
      `select network_id, host(address) as address from ip_lease where machine_id = ? and state <> 'released'`,
      [machineId],
    );
    for (const r of rows) await releaseLease(em, r.network_id, r.address);
  };

  /** The transition, unless the host has moved on (claimed by another machine, or already there). */
  const settleTransition = async (
    hostId: string,
    machineId: string | null,
    event: HostEvent,
    message: string,
    extra: { claimedBy?: string | null; lastError?: string | null; conditions?: ConditionUpdate[] } = {},
  ) => {
    try {
      return await transitionHost(deps.orm.em, hostId, event, {
        message,
        ...(machineId !== null ? { expectClaimedBy: machineId } : {}),
        idempotent: true,
        ...extra,
      });
    } catch (err) {
      if (err instanceof HangarError && err.code === 'invalid_state' && machineId !== null) {
        const host = await loadHost(hostId);
        // Already released (and perhaps claimed again for another machine): this machine's claim is gone.
        if (host.claimedBy !== machineId) return { from: host.state, to: host.state, changed: false };
      }
      throw err;
    }
  };

  return withFailureMapping({
    /**
     * Reads service root, system, managers and virtual media and records what was found. A BMC
     * that cannot be reached or refuses the credentials is not an activity failure: the host keeps
     * a failing bmc_reachable condition with the reason, and the result says so.
     */
    async hostInspect(hostId: string): Promise<{ reachable: boolean; code?: string; message?: string; powerState?: string }> {
      const host = await loadHost(hostId);
      let client: RedfishClient | undefined;
      let inv: RedfishInventory;
      try {
        client = clientFor(host);
        inv = await client.inspect();
      } catch (err) {
        if (err instanceof HangarError && err.code === 'not_found') throw err;
        const condition = unreachable(err);
        await updateHostObservation(deps.orm.em, hostId, [condition], { lastError: condition.message });
        return { reachable: false, code: err instanceof HangarError ? err.code : 'provider_error', message: condition.message };
      } finally {
        await client?.close().catch(() => undefined);
      }
      const cd = inv.virtualMedia.find((s) => s.cdCapable);
      await recordInspection(
        deps.orm.em,
        hostId,
        {
          vendor: inv.system.manufacturer ?? inv.service.vendor,
          model: inv.system.model,
          serialNumber: inv.system.serialNumber,
          powerState: inv.system.powerState,
          bootModes: inv.system.boot.allowableModes ?? (inv.system.boot.mode ? [inv.system.boot.mode] : null),
          virtualMediaSupported: inv.virtualMediaSupported,
          inventory: {
            service: inv.service,
            system: { ...inv.system },
            managers: inv.managers,
            virtual_media: cd ? { path: cd.path, location: cd.location, media_types: cd.mediaTypes, inserted: cd.inserted } : null,
            quirks: inv.quirks,
            auth: inv.auth,
          },
        },
        reachable(
          `inspected: ${[inv.system.manufacturer, inv.system.model].filter(Boolean).join(' ') || 'unknown system'} at ${inv.system.path} (${inv.quirks.profile} profile)`,
        ),
      );
      await deps.orm.em.fork().nativeUpdate(Host, { id: hostId }, { lastError: null });
      return { reachable: true, powerState: inv.system.powerState };
    },

    async hostPowerOff(hostId: string, opts: { graceful: boolean; timeoutSec?: number }): Promise<HostPowerResult> {
      return withBmc(
        hostId,
        async (c) => {
          const r = await c.powerOff({ graceful: opts.graceful, timeoutSec: opts.timeoutSec ?? powerTimeoutSec, forceTimeoutSec: powerTimeoutSec });
          return { powerState: r.powerState, changed: r.changed };
        },
        (r) => r.powerState,
      );
    },

    async hostPowerOn(hostId: string): Promise<HostPowerResult> {
      return withBmc(
        hostId,
        async (c) => {
          const r = await c.powerOn({ timeoutSec: powerTimeoutSec });
          return { powerState: r.powerState, changed: r.changed };
        },
        (r) => r.powerState,
      );
    },

    async hostReboot(hostId: string): Promise<HostPowerResult> {
      return withBmc(
        hostId,
        async (c) => {
          const r = await c.reboot({ timeoutSec: powerTimeoutSec });
          return { powerState: r.powerState, changed: r.changed };
        },
        (r) => r.powerState,
      );
    },

    async hostPowerState(hostId: string): Promise<string> {
      return withBmc(
        hostId,
        (c) => c.powerState(),
        (s) => s,
      );
    },

    /** Waits (heartbeating) until the host is off, e.g. after a wipe image finished; false on timeout. */
    async hostWaitPoweredOff(hostId: string, timeoutSec: number, pollMs = 5000): Promise<boolean> {
      const deadline = Date.now() + timeoutSec * 1000;
      for (;;) {
        const state = await withBmc(
          hostId,
          (c) => c.powerState(),
          (s) => s,
        );
        if (state === 'Off') return true;
        if (Date.now() >= deadline) return false;
        heartbeatIfInActivity({ powerState: state });
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), activitySignal());
      }
    },

    /**
     * Finished, never aborted, when cancelled: a BMC fetches the image on after the request that
     * asked for it is gone, so an aborted insert could land after the compensation's eject. The
     * workflow waits for this activity (WAIT_CANCELLATION_COMPLETED), then ejects.
     */
    async hostInsertMedia(hostId: string, imageUrl: string): Promise<{ changed: boolean }> {
      return withBmc(hostId, async (c) => ({ changed: (await c.insertMedia(imageUrl)).changed }), undefined, 'finish');
    },

    async hostEjectMedia(hostId: string): Promise<{ changed: boolean }> {
      return withBmc(hostId, async (c) => ({ changed: (await c.ejectMedia()).changed }));
    },

    /** One-time boot from the virtual CD (the BMC's way: standard Cd override or Dell's OEM attributes), verified. */
    async hostBootFromVirtualMedia(hostId: string, mode: 'UEFI' | 'Legacy' | null): Promise<{ changed: boolean; writes: number }> {
      return withBmc(hostId, async (c) => {
        const r = await c.bootFromVirtualMedia({ enabled: 'Once', ...(mode ? { mode } : {}) });
        return { changed: r.changed, writes: r.writes };
      });
    },

    async hostClearBootOverride(hostId: string): Promise<{ changed: boolean }> {
      return withBmc(hostId, async (c) => ({ changed: (await c.clearBootOverride()).changed }));
    },

    // --- inventory ---------------------------------------------------------------------------

    /** The host's claim, and the workflows that may be running on it (for force-release to settle). */
    async hostClaimOf(hostId: string): Promise<{ state: string; machineId: string | null; name: string; workflowIds: string[] }> {
      const host = await loadHost(hostId);
      const machineId = host.claimedBy ?? null;
      return {
        state: host.state,
        machineId,
        name: host.name,
        workflowIds: hostWorkflowIds(hostId, machineId),
      };
    },

    /** claimed → provisioning (the host must be claimed by this machine); the machine becomes provisioning. */
    async hostStartProvisioning(hostId: string, machineId: string, imageUrl: string): Promise<void> {
      const safeImage = redactUrl(imageUrl);
      await transitionHost(deps.orm.em, hostId, 'start-provisioning', {
        message: `provisioning machine ${machineId} from ${safeImage}`,
        expectClaimedBy: machineId,
        idempotent: true,
      });
      await setMachine(machineId, { state: 'provisioning', lastError: null });
    },

    /** provisioning → provisioned; the machine is ready (and running). */
    async hostFinishProvisioning(hostId: string, machineId: string): Promise<void> {
      await transitionHost(deps.orm.em, hostId, 'finish-provisioning', {
        message: `provisioned as machine ${machineId}`,
        expectClaimedBy: machineId,
        idempotent: true,
        lastError: null,
      });
      await setMachine(machineId, { state: 'ready', lastError: null, powerState: 'running' });
    },

    /**
     * After a failed or cancelled provision and its compensation: the host goes back to available
     * (claim released) when the hardware was put back, or to error (claim kept, for a person to look)
     * when some of the clean-up failed. The machine is marked failed with the reason; its leases go.
     */
    async hostReleaseAfterFailure(hostId: string, machineId: string, outcome: { message: string; cleanupFailed: string[] }): Promise<'available' | 'error'> {
      const cleanOk = outcome.cleanupFailed.length === 0;
      if (cleanOk) {
        await settleTransition(hostId, machineId, 'release', `released after a failed provision: ${outcome.message}`, {
          claimedBy: null,
          lastError: outcome.message,
        });
      } else {
        const why = `provision failed (${outcome.message}) and the clean-up failed for ${outcome.cleanupFailed.join(', ')}: check the BMC, then deprovision or force-release`;
        await settleTransition(hostId, machineId, 'fail', why, { lastError: why });
      }
      await setMachine(machineId, { state: 'failed', lastError: outcome.message });
      if (cleanOk) await releaseMachineLeases(machineId);
      return cleanOk ? 'available' : 'error';
    },

    /** provisioned (or error) → deprovisioning. */
    async hostStartDeprovisioning(hostId: string): Promise<void> {
      await transitionHost(deps.orm.em, hostId, 'start-deprovisioning', { message: 'deprovisioning', idempotent: true });
    },

    /** deprovisioning → available; the machine record is deleted (its leases are released with it). */
    async hostFinishDeprovisioning(hostId: string, machineId: string | null): Promise<void> {
      await transitionHost(deps.orm.em, hostId, 'finish-deprovisioning', {
        message: 'deprovisioned: powered off, media ejected, boot override cleared',
        claimedBy: null,
        idempotent: true,
        lastError: null,
      });
      if (machineId) await deps.orm.em.fork().nativeDelete(Machine, { id: machineId });
    },

    async hostFail(hostId: string, message: string): Promise<void> {
      await transitionHost(deps.orm.em, hostId, 'fail', { message, lastError: message, idempotent: true });
    },

    /** Admin: any held state → available, claim dropped; its machine (if any) is marked failed and its leases released. */
    async hostForceRelease(hostId: string, reason: string, cleanupFailed: string[]): Promise<{ from: string; machineId: string | null }> {
      const host = await loadHost(hostId);
      const note = cleanupFailed.length ? ` (BMC clean-up failed for ${cleanupFailed.join(', ')}; check the hardware)` : '';
      const result = await transitionHost(deps.orm.em, hostId, 'force-release', {
        message: `force-released: ${reason}${note}`,
        claimedBy: null,
        idempotent: true,
        lastError: cleanupFailed.length ? `force-released${note}` : null,
      });
      if (host.claimedBy) {
        await setMachine(host.claimedBy, { state: 'failed', lastError: `host ${host.name} was force-released: ${reason}` });
        await releaseMachineLeases(host.claimedBy);
      }
      return { from: result.from, machineId: host.claimedBy ?? null };
    },

    /** What the metadata service saw of the machine, and the host's power: evidence behind a phone-home timeout. */
    async hostDiagnoseBoot(hostId: string, machineId: string): Promise<BootDiagnosis> {
      const machine = await deps.orm.em.fork().findOne(Machine, { id: machineId });
      let powerState = 'unknown';
      try {
        powerState = normalisePowerState(
          await withBmc(
            hostId,
            (c) => c.powerState(),
            (s) => s,
          ),
        );
      } catch (err) {
        powerState = `unknown (${err instanceof HangarError ? err.code : 'error'})`;
      }
      return { fetched: Object.keys(machine?.metadataFetches ?? {}).sort(), phonedHome: !!machine?.phonedHomeAt, powerState };
    },
  });
}

export type HostActivities = ReturnType<typeof createHostActivities>;
