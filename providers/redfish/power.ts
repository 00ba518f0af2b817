// Power: ComputerSystem.Reset with the ResetTypes the profile prefers and the BMC allows, then
// polling the power state until it is what the reset implies.
import { HangarError } from '../../domain/errors.ts';
import type { BmcConnection } from './connection.ts';
import { obj, str, type Json } from './json.ts';
import { allowedResetTypes, mustPickReset, pickResetType, powerStateOf, type SystemContext } from './system.ts';
import type { PowerResult, RedfishPowerState } from './types.ts';

/** Posts one ResetType (which must be allowable) and waits for the power state it implies. */
export async function reset(conn: BmcConnection, ctx: SystemContext, resetType: string, timeoutSec = 120): Promise<PowerResult> {
  const sys = await conn.get(ctx.systemPath);
  const allowed = await allowedResetTypes(conn, sys.body);
  if (allowed && !allowed.includes(resetType)) {
    throw new HangarError('provider_rejected', `ResetType ${resetType} is not allowed by this BMC (allowable: ${allowed.join(', ')})`, { resetType });
  }
  const expect =
    /^(On|ForceOn)$/.test(resetType) || /Restart|PowerCycle/.test(resetType) ? 'On' : /^(ForceOff|GracefulShutdown)$/.test(resetType) ? 'Off' : undefined;
  const state = await resetAndWait(conn, ctx, sys.body, resetType, expect, timeoutSec * 1000);
  return { changed: true, resetTypes: [resetType], powerState: state };
}

export async function powerOn(conn: BmcConnection, ctx: SystemContext, timeoutSec = 120): Promise<PowerResult> {
  const sys = await conn.get(ctx.systemPath);
  const current = powerStateOf(sys.body);
  if (current === 'On') return { changed: false, resetTypes: [], powerState: current };
  const timeout = timeoutSec * 1000;
  if (current === 'PoweringOn') {
    return { changed: false, resetTypes: [], powerState: await waitPower(conn, ctx, 'On', timeout, true) };
  }
  const type = await mustPickReset(conn, sys.body, ctx.profile.resetTypes.on, 'power on');
  const state = await resetAndWait(conn, ctx, sys.body, type, 'On', timeout);
  return { changed: true, resetTypes: [type], powerState: state };
}

/**
 * Powers the system off: GracefulShutdown (when `graceful`, the default, and allowable), polling the
 * power state up to `timeoutSec`, then ForceOff.
 */
export async function powerOff(
  conn: BmcConnection,
  ctx: SystemContext,
  opts: { graceful?: boolean; timeoutSec?: number; forceTimeoutSec?: number },
): Promise<PowerResult> {
  const sys = await conn.get(ctx.systemPath);
  if (powerStateOf(sys.body) === 'Off') return { changed: false, resetTypes: [], powerState: 'Off' };
  const allowed = await allowedResetTypes(conn, sys.body);
  const posted: string[] = [];
  if (opts.graceful !== false) {
    const graceful = pickResetType(allowed, ctx.profile.resetTypes.gracefulOff);
    if (graceful) {
      posted.push(graceful);
      const state = await resetAndWait(conn, ctx, sys.body, graceful, 'Off', (opts.timeoutSec ?? 60) * 1000, false);
      if (state === 'Off') return { changed: true, resetTypes: posted, powerState: state };
      conn.log.warn({ timeoutSec: opts.timeoutSec ?? 60 }, 'graceful shutdown did not finish in time; forcing power off');
    }
  }
  const force = await mustPickReset(conn, sys.body, ctx.profile.resetTypes.forceOff, 'force power off');
  posted.push(force);
  const fresh = await conn.get(ctx.systemPath);
  if (powerStateOf(fresh.body) === 'Off') return { changed: true, resetTypes: posted.slice(0, -1), powerState: 'Off' };
  const state = await resetAndWait(conn, ctx, fresh.body, force, 'Off', (opts.forceTimeoutSec ?? 60) * 1000);
  return { changed: true, resetTypes: posted, powerState: state };
}

/** Restarts the system (ForceRestart, GracefulRestart, PowerCycle…, else off + on); an off system is powered on. */
export async function reboot(conn: BmcConnection, ctx: SystemContext, timeoutSec = 120): Promise<PowerResult> {
  const sys = await conn.get(ctx.systemPath);
  const timeout = timeoutSec * 1000;
  if (powerStateOf(sys.body) === 'Off') {
    const type = await mustPickReset(conn, sys.body, ctx.profile.resetTypes.on, 'power on');
    return { changed: true, resetTypes: [type], powerState: await resetAndWait(conn, ctx, sys.body, type, 'On', timeout) };
  }
  const allowed = await allowedResetTypes(conn, sys.body);
  const restart = pickResetType(allowed, ctx.profile.resetTypes.reboot);
  if (restart) {
    return { changed: true, resetTypes: [restart], powerState: await resetAndWait(conn, ctx, sys.body, restart, 'On', timeout) };
  }
  const off = await mustPickReset(conn, sys.body, ctx.profile.resetTypes.forceOff, 'power off');
  await resetAndWait(conn, ctx, sys.body, off, 'Off', timeout);
  const on = await mustPickReset(conn, sys.body, ctx.profile.resetTypes.on, 'power on');
  return { changed: true, resetTypes: [off, on], powerState: await resetAndWait(conn, ctx, (await conn.get(ctx.systemPath)).body, on, 'On', timeout) };
}

async function resetAndWait(
  conn: BmcConnection,
  ctx: SystemContext,
  system: Json,
  resetType: string,
  expect: 'On' | 'Off' | undefined,
  timeoutMs: number,
  mustReach = true,
): Promise<RedfishPowerState> {
  const action = obj(obj(system.Actions)['#ComputerSystem.Reset']);
  const target = str(action.target) ?? `${ctx.systemPath}/Actions/ComputerSystem.Reset`;
  conn.log.info({ resetType }, 'posting ComputerSystem.Reset');
  try {
    const res = await conn.exchange('POST', target, { body: { ResetType: resetType } });
    await conn.followTask(res, `reset ${resetType}`);
  } catch (err) {
    // The action may have been applied before the connection broke: the read-back decides.
    if (!(err instanceof HangarError) || !err.retryable || !expect) throw err;
    conn.log.warn({ err: { message: conn.scrub(err.message) } }, 'reset request failed transiently; checking whether it took effect');
    const state = await waitPower(conn, ctx, expect, Math.min(timeoutMs, 30_000), false);
    if (state !== expect) throw err;
    return state;
  }
  if (!expect) return powerStateOf((await conn.get(ctx.systemPath)).body);
  return waitPower(conn, ctx, expect, timeoutMs, mustReach);
}

async function waitPower(conn: BmcConnection, ctx: SystemContext, want: 'On' | 'Off', timeoutMs: number, mustReach: boolean): Promise<RedfishPowerState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = powerStateOf((await conn.get(ctx.systemPath)).body);
    if (state === want) return state;
    if (Date.now() >= deadline) {
      if (!mustReach) return state;
      throw new HangarError(
        'bmc_write_not_persisted',
        `the system did not reach PowerState ${want} within ${Math.round(timeoutMs / 1000)} s (BMC reports PowerState=${state})`,
        { PowerState: state },
      );
    }
    await conn.wait(Math.min(conn.pollMs, Math.max(0, deadline - Date.now())));
  }
}
