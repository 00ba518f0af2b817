// The VM lifecycle commands of `hangar` as a user runs them: templates, machines cloned from a
// template, power actions and data disks, with --wait and --dry-run. The real launcher against a
// real API and an in-process worker, on the dry-run provider.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { http } from '../support/harness.ts';
import { useCliSuite, tableLine } from '../support/hangar-cli.ts';

const sfx = Date.now().toString(36);
const cli = useCliSuite({ beforeAll, afterAll }, { worker: true });
const { ok, json, fails, items } = cli;

const apiGet = async (path: string) => (await http(cli.api.url, 'GET', path, { token: cli.token })).body;
const machineNamed = async (name: string) =>
  ((await apiGet(`/api/v1/machines?name_prefix=${name}`)).items as { name: string; id: string }[]).find((m) => m.name === name);

const SLOW = 120_000;
const tpl = `tpl-${sfx}`;
const vm = `vm-${sfx}`;
let machineId = '';

describe('hangar templates', () => {
  it(
    'plans, creates (watching the workflow), lists and shows a template',
    async () => {
      const plan = await ok(['templates', 'create', '--name', tpl, '--provider', 'dryrun', '--image', '/var/lib/images/debian.qcow2', '--dry-run']);
      expect(plan.stdout).toMatch(/^dry run: createTemplate \(workflow template\/[0-9a-f-]{36}\)/);
      expect(tableLine(plan.stdout, 1)).toMatch(/^STEP\s+CALL\s+ARGS$/);
      expect(plan.stdout).toMatch(/import\s+dryrun\.importTemplate\s+\{"image":"\/var\/lib\/images\/debian\.qcow2","checksum":null/);
      expect(await fails(1, ['templates', 'get', tpl])).toContain('error: not_found');

      const created = await ok([
        'templates',
        'create',
        '--name',
        tpl,
        '--provider',
        'dryrun',
        '--image',
        '/var/lib/images/debian.qcow2',
        '--checksum',
        `sha256:${'ab'.repeat(32)}`,
        '--cpu',
        '2',
        '--memory-mb',
        '1024',
        '--wait',
      ]);
      expect(created.stdout).toMatch(new RegExp(`^template ${tpl} \\([0-9a-f-]{36}\\) accepted; operation `));
      expect(created.stdout).toMatch(/createTemplate .* 3\/3 {2}completed/);
      expect(created.stdout).toMatch(/^import: completed in /m);

      const [list, listJson, got, gotTable, dupe] = await Promise.all([
        ok(['templates', 'list', '--provider', 'dryrun']),
        items<{ name: string; state: string }>(['templates', 'list', '--state', 'ready']),
        json(['templates', 'get', tpl]),
        ok(['templates', 'get', tpl]),
        fails(1, ['templates', 'create', '--name', tpl, '--provider', 'dryrun', '--image', '/x.qcow2']),
      ]);
      expect(tableLine(list.stdout)).toMatch(/^NAME\s+ID\s+PROVIDER\s+STATE\s+NODE\s+VMID\s+PROVIDER_REF\s+IMAGE$/);
      expect(list.stdout).toMatch(new RegExp(`${tpl}\\s+[0-9a-f-]{36}\\s+dryrun\\s+ready\\s+-\\s+-\\s+dry-template-`));
      expect(listJson.find((t) => t.name === tpl)?.state).toBe('ready');
      expect(got).toMatchObject({
        name: tpl,
        provider: 'dryrun',
        state: 'ready',
        cpu: 2,
        memory_mb: 1024,
        checksum: `sha256:${'ab'.repeat(32)}`,
        provider_ref: expect.stringMatching(/^dry-template-/),
      });
      expect(gotTable.stdout).toMatch(/state\s+ready/);
      expect(gotTable.stdout).toMatch(/create-template/);
      expect(dupe).toContain('error: already_exists');
    },
    SLOW,
  );
});

describe('hangar machines from a template', () => {
  it(
    'plans a machine without creating it, then creates it with its links and waits',
    async () => {
      const keyPath = join(cli.tmp, 'id');
      execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', `vm@${sfx}`, '-f', keyPath]);
      const key = await http(cli.api.url, 'POST', '/api/v1/ssh-keys', {
        token: cli.token,
        body: { name: `key-${sfx}`, public_key: readFileSync(`${keyPath}.pub`, 'utf8').trim() },
      });
      const net = await http(cli.api.url, 'POST', '/api/v1/networks', { token: cli.token, body: { name: `net-${sfx}`, cidr: '10.77.0.0/24' } });
      expect([key.status, net.status]).toEqual([201, 201]);

      const create = [
        'machines',
        'create',
        '--name',
        vm,
        '--template',
        tpl,
        '--cpu',
        '2',
        '--memory-mb',
        '1024',
        '--disk-gb',
        '12',
        '--network',
        `net-${sfx}`,
        '--ssh-key',
        `key-${sfx}`,
        '--domain',
        'lab.example',
        '--bridge',
        'vmbr1',
        '--vlan',
        '30',
      ];
      const [plan, planJson, waiting] = await Promise.all([
        ok([...create, '--dry-run']),
        json<{ dry_run: boolean; workflow: string; calls: { step: string; call: string; args: Record<string, unknown> }[] }>([...create, '--dry-run']),
        json<{ calls: { step: string }[] }>([...create, '--dry-run', '--wait-phone-home']),
      ]);
      expect(plan.stdout).toMatch(/^dry run: provisionVm \(workflow provision-vm\/[0-9a-f-]{36}\)/);
      expect(plan.stdout).toMatch(/create\s+dryrun\.clone\s+\{"template":"dry-template-[^"]+","name":"vm-/);
      expect(plan.stdout).toMatch(/configure\s+dryrun\.configure\s+\{"cpu":2,"memory_mb":1024,"disk_gb":12,"bridge":"vmbr1","vlan":30/);
      expect(planJson.dry_run).toBe(true);
      expect(planJson.calls.map((c) => c.step)).toEqual(['mark-provisioning', 'create', 'configure', 'start', 'mark-ready']);
      expect(waiting.calls.map((c) => c.step)).toContain('wait-phone-home');
      expect(await machineNamed(vm)).toBeUndefined();

      const run = await ok([...create, '--no-wait-phone-home', '--wait']);
      expect(run.stdout).toContain(`machine ${vm}`);
      expect(run.stdout).toMatch(/provisionVm .* 5\/5 {2}completed/);
      machineId = (await machineNamed(vm))!.id;
      const machine = await apiGet(`/api/v1/machines/${machineId}`);
      expect(machine).toMatchObject({
        state: 'ready',
        template: tpl,
        cpu: 2,
        disk_gb: 12,
        network_id: net.body.id,
        domain: 'lab.example',
        ssh_key_ids: [key.body.id],
        power_state: 'running',
      });
    },
    SLOW,
  );

  it(
    'stops, starts and restarts it, watching each operation, and plans without acting',
    async () => {
      expect(machineId).not.toBe('');
      const stop = await ok(['machines', 'stop', vm, '--wait']);
      expect(stop.stdout).toMatch(new RegExp(`^stopping ${vm} \\(${machineId}\\); operation `));
      expect(stop.stdout).toMatch(/vmPower .* completed/);
      expect(stop.stdout).toMatch(/^shutdown: completed in /m);
      expect((await apiGet(`/api/v1/machines/${machineId}`)).power_state).toBe('stopped');

      const plan = await ok(['machines', 'restart', machineId, '--dry-run']);
      expect(plan.stdout).toMatch(/shutdown\s+dryrun\.shutdown\s+\{"provider_id":"dry-/);
      expect(plan.stdout).toMatch(/start\s+dryrun\.start/);
      expect((await apiGet(`/api/v1/machines/${machineId}`)).power_state).toBe('stopped');

      await ok(['machines', 'start', vm, '--wait']);
      expect((await apiGet(`/api/v1/machines/${machineId}`)).power_state).toBe('running');
      const restart = await json<{ status: string; kind: string }>(['machines', 'restart', vm, '--wait']);
      expect(restart).toMatchObject({ status: 'completed', kind: 'restart' });
      expect((await apiGet(`/api/v1/machines/${machineId}`)).power_state).toBe('running');
    },
    SLOW,
  );

  it(
    'attaches, lists and detaches a data disk',
    async () => {
      expect(machineId).not.toBe('');
      const plan = await ok(['disks', 'attach', vm, '--size-gb', '8', '--storage', 'fast', '--dry-run']);
      expect(plan.stdout).toMatch(/attach\s+dryrun\.attachDisk\s+\{"provider_id":"dry-[^"]+","size_gb":8,"storage":"fast"\}/);
      expect((await ok(['disks', 'list', vm])).stdout.trim()).toBe('(none)');

      const attached = await ok(['disks', 'attach', vm, '--size-gb', '8', '--wait']);
      const diskId = /attaching a 8 GiB disk \(([0-9a-f-]{36})\)/.exec(attached.stdout)?.[1];
      expect(diskId).toBeDefined();
      expect(attached.stdout).toMatch(/attachDisk .* completed/);

      const [list, listJson] = await Promise.all([
        ok(['disks', 'list', vm]),
        items<{ id: string; state: string; size_gb: number }>(['disks', 'list', machineId]),
      ]);
      expect(tableLine(list.stdout)).toMatch(/^ID\s+SIZE_GB\s+STORAGE\s+SLOT\s+VOLUME\s+STATE/);
      expect(list.stdout).toMatch(new RegExp(`${diskId}\\s+8\\s+-\\s+dry-disk-\\S+\\s+dryrun:${diskId}\\s+attached`));
      expect(listJson).toEqual([expect.objectContaining({ id: diskId, state: 'attached', size_gb: 8 })]);

      const detachPlan = await ok(['disks', 'detach', vm, diskId!, '--dry-run']);
      expect(detachPlan.stdout).toMatch(/detach\s+dryrun\.detachDisk/);
      expect((await items<unknown>(['disks', 'list', vm])).length).toBe(1);
      const detached = await ok(['disks', 'detach', vm, diskId!, '--wait', '--yes']);
      expect(detached.stdout).toMatch(/^delete-record: completed in /m);
      expect(await items<unknown>(['disks', 'list', vm])).toEqual([]);
    },
    SLOW,
  );

  it(
    'refuses to delete a template in use, then deletes machine and template',
    async () => {
      expect(machineId).not.toBe('');
      const [refused, refusedPlan, delPlan] = await Promise.all([
        fails(1, ['templates', 'rm', tpl, '--wait', '--yes']),
        fails(1, ['templates', 'rm', tpl, '--dry-run']),
        ok(['machines', 'delete', vm, '--dry-run']),
      ]);
      expect(refused).toContain('error: has_dependents');
      expect(refused).toContain(vm);
      expect(refusedPlan).toContain('error: has_dependents');
      expect(delPlan.stdout).toMatch(/^dry run: deprovisionVm/);
      expect(delPlan.stdout).toMatch(/delete-vm\s+dryrun\.delete/);
      expect((await apiGet(`/api/v1/machines/${machineId}`)).state).toBe('ready');

      await ok(['machines', 'delete', vm, '--wait', '--yes']);
      const rmPlan = await ok(['templates', 'rm', tpl, '--dry-run']);
      expect(rmPlan.stdout).toMatch(/delete\s+dryrun\.deleteTemplate\s+\{"provider_ref":"dry-template-/);
      const rm = await ok(['templates', 'rm', tpl, '--wait', '--yes']);
      expect(rm.stdout).toMatch(new RegExp(`^deleting template ${tpl} `));
      expect(rm.stdout).toMatch(/deleteTemplate .* completed/);
      expect(await fails(1, ['templates', 'get', tpl])).toContain('error: not_found');
    },
    SLOW,
  );
});

describe('bad input', () => {
  it(
    'checks flags locally (exit 2) and shows API errors (exit 1)',
    async () => {
      const [size, vmid, vlan, clone, provider, cpu, diskRef, unknown, badName, missing] = await Promise.all([
        fails(2, ['disks', 'attach', 'whatever', '--size-gb', 'abc']),
        fails(2, ['machines', 'create', '--name', `x-${sfx}`, '--vmid', '5', '--dry-run']),
        fails(2, ['machines', 'create', '--name', `x-${sfx}`, '--vlan', '5000']),
        fails(2, ['machines', 'create', '--name', `x-${sfx}`, '--clone-mode', 'fast']),
        fails(2, ['templates', 'create', '--name', `x-${sfx}`, '--provider', 'vmware', '--image', '/x']),
        fails(2, ['templates', 'create', '--name', `x-${sfx}`, '--provider', 'dryrun', '--image', '/x', '--cpu', '0']),
        fails(2, ['disks', 'detach', 'whatever', 'disk-1', '--yes']),
        fails(1, ['machines', 'start', `nosuch-${sfx}`]),
        fails(1, ['templates', 'create', '--name', 'Bad Name', '--provider', 'dryrun', '--image', '/x']),
        fails(2, ['disks', 'attach', 'whatever']),
      ]);
      expect(size).toContain('--size-gb must be a whole number, got "abc"');
      expect(vmid).toContain('--vmid must be between 100 and 999999999, got 5');
      expect(vlan).toContain('--vlan must be between 1 and 4094, got 5000');
      expect(clone).toContain('--clone-mode must be one of full, linked, got "fast"');
      expect(provider).toContain('--provider must be one of dryrun, qemu, proxmox, redfish, got "vmware"');
      expect(cpu).toContain('--cpu must be between 1 and 512, got 0');
      expect(diskRef).toContain('<disk-id> must be a disk id');
      expect(unknown).toContain(`error: not_found: no machine named "nosuch-${sfx}"`);
      expect(badName).toContain('error: validation_failed');
      expect(badName).toContain('name:');
      expect(missing).toContain("required option '--size-gb <n>' not specified");
      expect(await machineNamed(`x-${sfx}`)).toBeUndefined();
    },
    SLOW,
  );
});
