// Drift findings: one scan's result applied in one transaction, plus the reads and the operator's
// ignore. The database decides duplicates: `drift_finding_unresolved_unique` admits one unresolved
// finding per (resource, kind), and opening is `insert … on conflict do nothing`. Scans of one
// target are serialised by a transaction-scoped advisory lock (which writes nothing), so the
// two-scan memory is read and written by one scan at a time.
//
// An unchanged scan writes no finding: an open finding's `last_seen` is its target's scan clock
// (`drift_scan_target.last_complete_scan_at`), one row per target, not a column rewritten on every
// finding every scan (docs/decisions/0018-drift-completeness-guard.md). `first_seen` is kept to the
// millisecond, as the API writes it, so the (first_seen, id) cursor of a page is exact.
import type { EntityManager } from '@mikro-orm/postgresql';
import { evaluateScan, resourceKey, type Difference, type DriftKind, type DriftState, type OpenFinding } from '../../domain/drift.ts';
import { HangarError } from '../../domain/errors.ts';
import { iso, sqlFor, type Sql } from '../sql.ts';

/** One observer run's result for one target. */
export interface ScanReport {
  target: string;
  provider: string;
  complete: boolean;
  differences: readonly Difference[];
  /** Resource keys (`type/id`) the scan listed. */
  judged: readonly string[];
  /** How long the listing took (the scan-duration metric). */
  durationMs?: number;
  /** Why the scan was partial (counted as a scan failure of the target). */
  error?: string;
}

export interface AppliedScan {
  opened: string[];
  resolved: string[];
  /** Whether any finding row was inserted or updated. */
  findingsWritten: boolean;
}

export interface DriftFindingView {
  id: string;
  target: string;
  provider: string;
  resource_type: string;
  resource_id: string;
  resource_name: string;
  kind: DriftKind;
  desired: Record<string, unknown> | null;
  observed: Record<string, unknown> | null;
  state: DriftState;
  first_seen: string;
  last_seen: string;
  resolved_at: string | null;
  action_taken: string | null;
}

interface TargetRow {
  absent_once: string[];
}

export async function applyScan(em: EntityManager, report: ScanReport): Promise<AppliedScan> {
  return em.fork().transactional(async (tx) => {
    const sql = sqlFor(tx);
    await sql(`select pg_advisory_xact_lock(hashtextextended(?, 0))`, [`drift-scan:${report.target}`]);
    const [target] = await sql<TargetRow[]>(`select absent_once from drift_scan_target where target = ?`, [report.target]);
    const unresolved = await sql<{ resource_type: string; resource_id: string; kind: DriftKind }[]>(
      `select resource_type, resource_id, kind from drift_finding where target = ? and state <> 'resolved'`,
      [report.target],
    );
    const open: OpenFinding[] = unresolved.map((f) => ({ ref: { type: f.resource_type, id: f.resource_id }, kind: f.kind }));
    const outcome = evaluateScan({
      differences: report.differences,
      complete: report.complete,
      judged: new Set(report.judged),
      open,
      absentOnce: target?.absent_once ?? [],
    });
    const opened: string[] = [];
    for (const diff of outcome.open) {
      const rows = await sql<{ id: string }[]>(
        `insert into drift_finding (target, provider, resource_type, resource_id, resource_name, kind, desired, observed, first_seen, last_seen)
         values (?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, date_trunc('milliseconds', now()), date_trunc('milliseconds', now()))
         on conflict (resource_type, resource_id, kind) where state <> 'resolved' do nothing
         returning id`,
        [
          report.target,
          report.provider,
          diff.ref.type,
          diff.ref.id,
          diff.ref.name,
          diff.kind,
          diff.desired === null ? null : JSON.stringify(diff.desired),
          diff.observed === null ? null : JSON.stringify(diff.observed),
        ],
      );
      if (rows[0]) opened.push(rows[0].id);
    }
    const resolved = await resolveFindings(sql, report.target, outcome.resolve);
    await auditFindings(sql, report.target, 'drift.open', opened);
    await auditFindings(sql, report.target, 'drift.resolve', resolved);
    await recordScan(sql, report, outcome.absentOnce);
    return { opened, resolved, findingsWritten: opened.length > 0 || resolved.length > 0 };
  });
}

/** Resolves the given unresolved findings; `last_seen` becomes the last complete scan that still saw them. */
async function resolveFindings(sql: Sql, target: string, findings: readonly OpenFinding[]): Promise<string[]> {
  if (!findings.length) return [];
  const keys = findings.map((f) => `${resourceKey(f.ref)}/${f.kind}`);
  const rows = await sql<{ id: string }[]>(
    `update drift_finding f set state = 'resolved', resolved_at = now(),
       last_seen = greatest(f.last_seen, coalesce((select t.last_complete_scan_at from drift_scan_target t where t.target = f.target), f.last_seen))
     where f.target = ? and f.state <> 'resolved' and (f.resource_type || '/' || f.resource_id || '/' || f.kind) = any(?::text[])
     returning f.id`,
    [target, `{${keys.map((k) => JSON.stringify(k)).join(',')}}`],
  );
  return rows.map((r) => r.id);
}

/** Openings and resolutions go to the audit log, in the scan's transaction; an unchanged scan adds nothing. */
async function auditFindings(sql: Sql, target: string, action: 'drift.open' | 'drift.resolve', ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  await sql(
    `insert into audit_event (at, actor, action, resource_type, resource_id, request_id, status_code, detail)
     select now(), ?, ?, 'drift_finding', f.id::text, ?, 200,
            jsonb_build_object('resource_type', f.resource_type, 'resource_id', f.resource_id, 'resource_name', f.resource_name, 'kind', f.kind)
     from drift_finding f where f.id = any(?::uuid[])`,
    [`observer:${target}`, action, `scan:${target}`, `{${ids.join(',')}}`],
  );
}

/**
 * The target's scan clock, two-scan memory and scan signals: one row per target. A partial scan
 * counts as a failure of the target, with its reason.
 */
async function recordScan(sql: Sql, report: ScanReport, absentOnce: string[]): Promise<void> {
  const failed = !report.complete || report.error !== undefined;
  await sql(
    `insert into drift_scan_target (target, provider, last_scan_at, last_scan_complete, last_complete_scan_at, absent_once, last_duration_ms, failures, last_error)
     values (?, ?, now(), ?, case when ? then now() end, ?::jsonb, ?, case when ? then 1 else 0 end, ?)
     on conflict (target) do update set last_scan_at = excluded.last_scan_at, last_scan_complete = excluded.last_scan_complete,
       last_complete_scan_at = coalesce(excluded.last_complete_scan_at, drift_scan_target.last_complete_scan_at),
       absent_once = excluded.absent_once, last_duration_ms = coalesce(excluded.last_duration_ms, drift_scan_target.last_duration_ms),
       failures = drift_scan_target.failures + excluded.failures,
       last_error = coalesce(excluded.last_error, drift_scan_target.last_error)`,
    [
      report.target,
      report.provider,
      report.complete,
      report.complete,
      JSON.stringify(absentOnce),
      report.durationMs ?? null,
      failed,
      failed ? (report.error ?? 'partial scan') : null,
    ],
  );
}

/** A scan that failed outright (its listing threw): counted, with the reason; nothing else changes. */
export async function recordScanFailure(em: EntityManager, target: string, provider: string, error: string): Promise<void> {
  await sqlFor(em.fork())(
    `insert into drift_scan_target (target, provider, last_scan_at, last_scan_complete, failures, last_error)
     values (?, ?, now(), false, 1, ?)
     on conflict (target) do update set last_scan_at = excluded.last_scan_at, last_scan_complete = false,
       failures = drift_scan_target.failures + 1, last_error = excluded.last_error`,
    [target, provider, error.slice(0, 2000)],
  );
}

/** Records what remediation did about a finding (e.g. `release_lease`). */
export async function recordAction(em: EntityManager, findingId: string, action: string): Promise<void> {
  await sqlFor(em.fork())(`update drift_finding set action_taken = ? where id = ?`, [action, findingId]);
}

/** The unresolved, not ignored finding of one resource and kind, if any. */
export async function openFindingId(em: EntityManager, ref: { type: string; id: string }, kind: DriftKind): Promise<string | null> {
  const [row] = await sqlFor(em.fork())<{ id: string }[]>(
    `select id from drift_finding where resource_type = ? and resource_id = ? and kind = ? and state = 'open'`,
    [ref.type, ref.id, kind],
  );
  return row?.id ?? null;
}

/**
 * Records a remediation on its finding (`power_on_host (operation <id>)`) and, when an observer
 * did it (`actor`), in the audit log; a person's remediation is audited by the API's request log.
 */
export async function recordRemediation(
  em: EntityManager,
  findingId: string,
  action: string,
  by: { operationId: string | null; actor?: string },
): Promise<void> {
  const taken = by.operationId ? `${action} (operation ${by.operationId})` : action;
  await em.fork().transactional(async (tx) => {
    const sql = sqlFor(tx);
    await sql(`update drift_finding set action_taken = ? where id = ?`, [taken, findingId]);
    if (!by.actor) return;
    await sql(
      `insert into audit_event (at, actor, action, resource_type, resource_id, request_id, status_code, detail)
       select now(), ?, 'drift.remediate', 'drift_finding', f.id::text, ?, 202,
              jsonb_build_object('resource_type', f.resource_type, 'resource_id', f.resource_id, 'kind', f.kind, 'action', ?::text, 'operation_id', ?::text)
       from drift_finding f where f.id = ?`,
      [by.actor, `remediate:${findingId}`, action, by.operationId, findingId],
    );
  });
}

const VIEW_COLUMNS = `f.id, f.target, f.provider, f.resource_type, f.resource_id, f.resource_name, f.kind, f.desired, f.observed, f.state,
  f.first_seen, f.resolved_at, f.action_taken,
  case when f.state = 'resolved' then f.last_seen else greatest(f.last_seen, coalesce(t.last_complete_scan_at, f.last_seen)) end as last_seen`;
const FROM = `from drift_finding f left join drift_scan_target t on t.target = f.target`;

interface FindingRow extends Omit<DriftFindingView, 'first_seen' | 'last_seen' | 'resolved_at'> {
  first_seen: Date | string;
  last_seen: Date | string;
  resolved_at: Date | string | null;
}

const toView = (r: FindingRow): DriftFindingView => ({
  ...r,
  first_seen: iso(r.first_seen)!,
  last_seen: iso(r.last_seen)!,
  resolved_at: iso(r.resolved_at),
});

export interface FindingFilter {
  kind?: DriftKind;
  provider?: string;
  resourceId?: string;
  state?: DriftState;
  /** Keyset: rows after (first_seen, id) in newest-first order. */
  after?: { firstSeen: string; id: string } | null;
  limit: number;
}

export async function listFindings(em: EntityManager, filter: FindingFilter): Promise<DriftFindingView[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    params.push(value);
  };
  if (filter.kind) add('f.kind = ?', filter.kind);
  if (filter.provider) add('f.provider = ?', filter.provider);
  if (filter.resourceId) add('f.resource_id = ?', filter.resourceId);
  if (filter.state) add('f.state = ?', filter.state);
  if (filter.after) {
    where.push('(f.first_seen, f.id) < (?::timestamptz, ?::uuid)');
    params.push(filter.after.firstSeen, filter.after.id);
  }
  const rows = await sqlFor(em.fork())<FindingRow[]>(
    `select ${VIEW_COLUMNS} ${FROM} ${where.length ? `where ${where.join(' and ')}` : ''} order by f.first_seen desc, f.id desc limit ?`,
    [...params, filter.limit],
  );
  return rows.map(toView);
}

export async function getFinding(em: EntityManager, id: string): Promise<DriftFindingView> {
  const [row] = await sqlFor(em.fork())<FindingRow[]>(`select ${VIEW_COLUMNS} ${FROM} where f.id = ?`, [id]);
  if (!row) throw new HangarError('not_found', `drift finding ${id} not found`);
  return toView(row);
}

/** An operator acknowledges a finding: it stays unresolved (and is not opened again) until its difference goes away. */
export async function ignoreFinding(em: EntityManager, id: string): Promise<DriftFindingView> {
  const fork = em.fork();
  const current = await getFinding(fork, id);
  if (current.state === 'resolved') throw new HangarError('invalid_state', `drift finding ${id} is already resolved`, { state: current.state });
  if (current.state === 'open') await sqlFor(fork)(`update drift_finding set state = 'ignored' where id = ? and state = 'open'`, [id]);
  return getFinding(fork, id);
}

export interface DriftGauges {
  open: { kind: DriftKind; provider: string; count: number }[];
  lastCompleteScan: { target: string; provider: string; at: number }[];
  /** Every target's last scan duration (seconds, when known) and failed or partial scans so far. */
  targets: { target: string; provider: string; durationSec: number | null; failures: number }[];
}

/** What /metrics exports: open findings by kind and provider, each target's scan clock, duration and failures. */
export async function driftGauges(em: EntityManager): Promise<DriftGauges> {
  const sql = sqlFor(em.fork());
  const open = await sql<{ kind: DriftKind; provider: string; count: string }[]>(
    `select kind, provider, count(*) as count from drift_finding where state = 'open' group by kind, provider`,
  );
  const scans = await sql<{ target: string; provider: string; at: string | null; duration_ms: number | null; failures: string }[]>(
    `select target, provider, extract(epoch from last_complete_scan_at)::float8 as at, last_duration_ms as duration_ms, failures from drift_scan_target`,
  );
  return {
    open: open.map((r) => ({ kind: r.kind, provider: r.provider, count: Number(r.count) })),
    lastCompleteScan: scans.filter((r) => r.at !== null).map((r) => ({ target: r.target, provider: r.provider, at: Number(r.at) })),
    targets: scans.map((r) => ({
      target: r.target,
      provider: r.provider,
      durationSec: r.duration_ms === null ? null : r.duration_ms / 1000,
      failures: Number(r.failures),
    })),
  };
}
