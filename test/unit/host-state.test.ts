// The host state machine: every legal transition, every illegal one refused with invalid_state
// naming the current state, conditions kept per type with their transition times, BMC addresses.
import { describe, expect, it } from '@jest/globals';
import { HangarError } from '../../domain/errors.ts';
import {
  HOST_STATES,
  HOST_TRANSITIONS,
  canTransition,
  mergeConditions,
  transition,
  transitionConditions,
  type HostEvent,
  type HostState,
} from '../../domain/host-state.ts';
import { parseBmcAddress } from '../../domain/bmc-address.ts';
import { provisionHostSchema, createHostSchema } from '../../domain/host-requests.ts';
import { deriveControlPlane } from '../../domain/cluster.ts';

const events = Object.keys(HOST_TRANSITIONS) as HostEvent[];

describe('host state machine', () => {
  it('walks the provisioning lifecycle', () => {
    let s: HostState = 'available';
    for (const e of ['claim', 'start-provisioning', 'finish-provisioning', 'start-deprovisioning', 'finish-deprovisioning'] as HostEvent[])
      s = transition(s, e);
    expect(s).toBe('available');
    expect(transition('provisioning', 'release')).toBe('available');
    expect(transition('claimed', 'release')).toBe('available');
    expect(transition('deprovisioning', 'fail')).toBe('error');
    expect(transition('error', 'start-deprovisioning')).toBe('deprovisioning');
    expect(transition('error', 'force-release')).toBe('available');
    expect(transition('available', 'enter-maintenance')).toBe('maintenance');
    expect(transition('maintenance', 'exit-maintenance')).toBe('available');
  });

  it('refuses every transition not in the table, naming the current state', () => {
    let refused = 0;
    for (const state of HOST_STATES) {
      for (const event of events) {
        if (canTransition(state, event)) {
          expect(() => transition(state, event)).not.toThrow();
          continue;
        }
        refused += 1;
        let err: unknown;
        try {
          transition(state, event, 'host rack1-u07');
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(HangarError);
        expect((err as HangarError).code).toBe('invalid_state');
        expect((err as HangarError).status).toBe(409);
        expect((err as HangarError).message).toContain(`rack1-u07 is ${state}`);
        expect((err as HangarError).fields).toEqual({ state });
      }
    }
    expect(refused).toBeGreaterThan(40);
    // The ones that matter most.
    expect(canTransition('claimed', 'claim')).toBe(false);
    expect(canTransition('provisioned', 'claim')).toBe(false);
    expect(canTransition('maintenance', 'claim')).toBe(false);
    expect(canTransition('provisioning', 'start-deprovisioning')).toBe(false);
    expect(canTransition('available', 'force-release')).toBe(false);
  });

  it('sets conditions on every transition, keeping one per type and the time of the last status change', () => {
    for (const e of events) expect(transitionConditions(e, 'why').length).toBeGreaterThan(0);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-01-01T00:05:00Z');
    const t2 = new Date('2026-01-01T00:10:00Z');
    let c = mergeConditions([], transitionConditions('claim', 'claimed for m1'), t0);
    expect(c).toEqual([{ type: 'claimed', status: 'True', reason: 'Claimed', message: 'claimed for m1', lastTransitionTime: t0.toISOString() }]);
    c = mergeConditions(c, transitionConditions('start-provisioning', 'from img'), t1);
    c = mergeConditions(c, [{ type: 'claimed', status: 'True', reason: 'StillClaimed', message: 'again' }], t2);
    const claimed = c.find((x) => x.type === 'claimed')!;
    expect(claimed.lastTransitionTime).toBe(t0.toISOString()); // status unchanged
    expect(claimed.reason).toBe('StillClaimed');
    c = mergeConditions(c, transitionConditions('release', 'boom'), t2);
    expect(c.find((x) => x.type === 'claimed')).toMatchObject({ status: 'False', reason: 'Released', lastTransitionTime: t2.toISOString() });
    expect(c.find((x) => x.type === 'provisioned')).toMatchObject({ status: 'False', reason: 'ProvisioningFailed', message: 'boom' });
    expect(c.map((x) => x.type)).toEqual([...c.map((x) => x.type)].sort());
  });
});

describe('BMC addresses', () => {
  it('parses with and without a system path', () => {
    expect(parseBmcAddress('redfish+https://10.0.0.5/redfish/v1/Systems/System.Embedded.1')).toEqual({
      endpoint: 'https://10.0.0.5',
      systemPath: '/redfish/v1/Systems/System.Embedded.1',
      insecureTransport: false,
    });
    expect(parseBmcAddress('redfish+https://bmc.example:8443')).toEqual({ endpoint: 'https://bmc.example:8443', insecureTransport: false });
    expect(parseBmcAddress('redfish+https://bmc.example/redfish/v1/')).toEqual({ endpoint: 'https://bmc.example', insecureTransport: false });
    expect(parseBmcAddress('redfish+http://127.0.0.1:8000/redfish/v1/Systems/abc')).toMatchObject({
      endpoint: 'http://127.0.0.1:8000',
      insecureTransport: true,
    });
    expect(parseBmcAddress('redfish+https://[fd00::5]:443/redfish/v1/Systems/1').endpoint).toBe('https://[fd00::5]');
  });

  it('refuses other schemes, paths and credentials in the URL', () => {
    for (const bad of [
      'https://bmc/redfish/v1/Systems/1',
      'redfish+ftp://bmc',
      'redfish+https://bmc/other',
      'redfish+https://bmc/redfish/v1/Managers/1',
      'redfish+https://root:calvin@bmc/redfish/v1/Systems/1',
      '',
    ]) {
      expect(() => parseBmcAddress(bad)).toThrow(HangarError);
    }
    const parsed = createHostSchema.safeParse({ name: 'h1', bmc_address: 'redfish+https://root:pw-secret@bmc', username: 'root', password: 'pw-secret' });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).not.toContain('pw-secret');
  });
});

describe('request schemas', () => {
  it('selects by host or tags, not both', () => {
    expect(provisionHostSchema.safeParse({ name: 'm1', image_url: 'http://img/x.iso' }).success).toBe(true);
    expect(provisionHostSchema.safeParse({ name: 'm1', image_url: 'http://img/x.iso', tags: ['rack1'] }).success).toBe(true);
    expect(provisionHostSchema.safeParse({ name: 'm1', image_url: 'http://img/x.iso', host: 'h1', tags: ['rack1'] }).success).toBe(false);
    expect(provisionHostSchema.safeParse({ name: 'm1', image_url: 'file:///x.iso' }).success).toBe(false);
  });
});

describe('cluster control-plane endpoint', () => {
  const m = (name: string, role: 'control-plane' | 'worker', state: string, addresses: string[]) => ({
    machine_id: `${name}-id`,
    name,
    role,
    state,
    addresses,
  });
  it('is the VIP when set, else the first control-plane machine with an address', () => {
    expect(deriveControlPlane('10.0.0.100', 6443, [m('cp1', 'control-plane', 'ready', ['10.0.0.11'])]).endpoint).toMatchObject({
      host: '10.0.0.100',
      source: 'vip',
      url: 'https://10.0.0.100:6443',
    });
    const d = deriveControlPlane(null, 6443, [
      m('w1', 'worker', 'ready', ['10.0.0.21']),
      m('cp2', 'control-plane', 'ready', ['10.0.0.12']),
      m('cp1', 'control-plane', 'provisioning', []),
    ]);
    expect(d.endpoint).toMatchObject({ host: '10.0.0.12', source: 'machine', machine_id: 'cp2-id' });
    expect(d.ready).toMatchObject({ type: 'ready', status: 'False', reason: 'ControlPlaneNotReady' });
    expect(deriveControlPlane(null, 6443, [m('cp1', 'control-plane', 'ready', ['fd00::1'])]).endpoint?.url).toBe('https://[fd00::1]:6443');
  });
  it('is ready only with an endpoint and every control-plane machine ready', () => {
    expect(deriveControlPlane(null, 6443, []).ready.reason).toBe('NoControlPlane');
    expect(deriveControlPlane(null, 6443, [m('cp1', 'control-plane', 'ready', [])]).ready.reason).toBe('NoEndpoint');
    expect(deriveControlPlane(null, 6443, [m('cp1', 'control-plane', 'ready', ['10.0.0.11']), m('w1', 'worker', 'failed', [])]).ready).toMatchObject({
      status: 'True',
      reason: 'ControlPlaneReady',
    });
  });
});
