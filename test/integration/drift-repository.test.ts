// Applying scans to drift_finding against real PostgreSQL: findings open once and resolve when
// their difference is gone, concurrent scans of one target never duplicate a finding (the partial
// unique index decides), `missing` needs two complete scans, and an unchanged scan writes no finding.
import { describe, expect, it, beforeAll, afterAll } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { openOrm, type MikroORM } from '../../db/orm.ts';
import { applyScan, getFinding, ignoreFinding, listFindings, type ScanReport } from '../../db/repositories/drift.ts';
import { compareResources, resourceKey, type DesiredResource, type ObservedResource } from '../../domain/drift.ts';
import { HangarError } from '../../domain/errors.ts';
import { testConfig } from '../support/harness.ts';

let orm: MikroORM;

beforeAll(async () => {
  orm = await openOrm({ url: testConfig().database.url, poolSize: 10 });
});
afterAll(async () => {
  await orm.close();
});

const vm = (id: string) => ({ type: 'machine', id, name: `vm-${id.slice(0, 8)}` });
const want = (id: string): DesiredResource => ({ ref: vm(id), power: 'running' });
const seen = (id: string, power: 'running' | 'stopped' = 'running'): ObservedResource => ({ ref: vm(id), managed: true, power });

function report(target: string, desired: DesiredResource[], observed: ObservedResource[], complete = true): ScanReport {
  return {
    target,
    provider: 'dryrun',
    complete,
    differences: compareResources(desired, observed),
    judged: observed.map((o) => resourceKey(o.ref)),
  };
}

const findingsOf = (resourceId: string) => listFindings(orm.em, { resourceId, limit: 100 });

/** The transaction ids that last wrote each finding row of the target: unchanged ids mean nothing was rewritten. */
async function rowVersions(target: string): Promise<string[]> {
  const rows = await orm.em
    .getConnection()
    .execute<{ v: string }[]>(`select id::text || ':' || xmin::text as v from drift_finding where target = ? order by id`, [target]);
  return rows.map((r) => r.v);
}

describe('applyScan', () => {
  it('opens a finding once, keeps it while the difference lasts, and resolves it when it goes', async () => {
    const target = `t-${randomUUID()}`;
    const id = randomUUID();
    const first = await applyScan(orm.em, report(target, [want(id)], [seen(id, 'stopped')]));
    expect(first.opened).toHaveLength(1);
    const again = await applyScan(orm.em, report(target, [want(id)], [seen(id, 'stopped')]));
    expect(again).toEqual({ opened: [], resolved: [], findingsWritten: false });
    const [open] = await findingsOf(id);
    expect(open).toMatchObject({ kind: 'power_mismatch', state: 'open', desired: { power: 'running' }, observed: { power: 'stopped' }, resolved_at: null });
    const fixed = await applyScan(orm.em, report(target, [want(id)], [seen(id)]));
    expect(fixed.resolved).toEqual([open!.id]);
    const resolved = await getFinding(orm.em, open!.id);
    expect(resolved.state).toBe('resolved');
    expect(resolved.resolved_at).not.toBeNull();
    // Opening and resolving are in the audit log, once each (the unchanged scan added nothing).
    const audit = await orm.em
      .getConnection()
      .execute<{ action: string; actor: string }[]>(`select action, actor from audit_event where resource_id = ? order by id`, [open!.id]);
    expect(audit).toEqual([
      { action: 'drift.open', actor: `observer:${target}` },
      { action: 'drift.resolve', actor: `observer:${target}` },
    ]);
  });

  it('two scans of the same target applied at once produce no duplicate findings', async () => {
    const target = `t-${randomUUID()}`;
    const ids = Array.from({ length: 5 }, () => randomUUID());
    const r = report(
      target,
      ids.map(want),
      ids.map((i) => seen(i, 'stopped')),
    );
    const results = await Promise.all(Array.from({ length: 8 }, () => applyScan(orm.em, r)));
    expect(results.flatMap((x) => x.opened)).toHaveLength(5);
    for (const i of ids) expect(await findingsOf(i)).toHaveLength(1);
  });

  it('the database itself refuses a second unresolved finding for one resource and kind', async () => {
    const rid = randomUUID();
    const insert = `insert into drift_finding (target, provider, resource_type, resource_id, resource_name, kind, first_seen, last_seen)
      values ('t', 'dryrun', 'machine', ?, 'x', 'orphan', now(), now())`;
    const conn = orm.em.getConnection();
    await conn.execute(insert, [rid]);
    await expect(conn.execute(insert, [rid])).rejects.toThrow(/drift_finding_unresolved_unique/);
    await conn.execute(`update drift_finding set state = 'resolved', resolved_at = now() where resource_id = ?`, [rid]);
    await conn.execute(insert, [rid]);
    expect(await findingsOf(rid)).toHaveLength(2);
  });

  it('marks missing only after two consecutive complete scans; a partial scan marks nothing', async () => {
    const target = `t-${randomUUID()}`;
    const id = randomUUID();
    expect((await applyScan(orm.em, report(target, [want(id)], [], false))).opened).toEqual([]);
    expect((await applyScan(orm.em, report(target, [want(id)], []))).opened).toEqual([]);
    expect((await applyScan(orm.em, report(target, [want(id)], [], false))).opened).toEqual([]);
    expect(await findingsOf(id)).toEqual([]);
    expect((await applyScan(orm.em, report(target, [want(id)], []))).opened).toHaveLength(1);
    expect((await findingsOf(id)).map((f) => f.kind)).toEqual(['missing']);
  });

  it('an unchanged scan rewrites no finding; last_seen follows the target scan clock', async () => {
    const target = `t-${randomUUID()}`;
    const ids = [randomUUID(), randomUUID()];
    const r = report(target, ids.map(want), [seen(ids[0]!, 'stopped'), { ref: vm(ids[1]!), managed: false, power: 'running' }, seen(ids[1]!)]);
    await applyScan(orm.em, r);
    const before = await rowVersions(target);
    const [finding] = await findingsOf(ids[0]!);
    expect(before).toHaveLength(1);
    const result = await applyScan(orm.em, r);
    expect(result.findingsWritten).toBe(false);
    expect(await rowVersions(target)).toEqual(before);
    const later = await getFinding(orm.em, finding!.id);
    expect(later.first_seen).toBe(finding!.first_seen);
    expect(new Date(later.last_seen).getTime()).toBeGreaterThan(new Date(finding!.last_seen).getTime());
  });

  it('an ignored finding is not opened again, and resolves when its difference goes', async () => {
    const target = `t-${randomUUID()}`;
    const id = randomUUID();
    const { opened } = await applyScan(orm.em, report(target, [want(id)], [seen(id, 'stopped')]));
    expect((await ignoreFinding(orm.em, opened[0]!)).state).toBe('ignored');
    expect((await ignoreFinding(orm.em, opened[0]!)).state).toBe('ignored');
    expect((await applyScan(orm.em, report(target, [want(id)], [seen(id, 'stopped')]))).opened).toEqual([]);
    await applyScan(orm.em, report(target, [want(id)], [seen(id)]));
    expect((await getFinding(orm.em, opened[0]!)).state).toBe('resolved');
    await expect(ignoreFinding(orm.em, opened[0]!)).rejects.toMatchObject({ code: 'invalid_state' });
    await expect(ignoreFinding(orm.em, randomUUID())).rejects.toBeInstanceOf(HangarError);
  });
});
