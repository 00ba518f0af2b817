// A resource's open drift findings, shown on GET /machines/{id} and GET /hosts/{id}: the findings
// themselves and a `drift` condition, so a reader of the resource sees that reality differs.
import type { EntityManager } from '@mikro-orm/postgresql';
import { listFindings } from '../db/repositories/drift.ts';
import type { z } from 'zod';
import type { condition } from './contract/schemas.ts';
import type { driftFinding } from './contract/views.ts';

type Condition = z.output<typeof condition>;
type Finding = z.output<typeof driftFinding>;

/** At most this many findings are listed on a resource; /drift?resource_id= has them all. */
const SHOWN = 20;

export async function openDrift(em: EntityManager, resourceId: string, conditions: Condition[]): Promise<{ drift: Finding[]; conditions: Condition[] }> {
  const drift = (await listFindings(em, { resourceId, state: 'open', limit: SHOWN })) as Finding[];
  if (!drift.length) return { drift, conditions };
  const oldest = drift.reduce((a, b) => (a.first_seen < b.first_seen ? a : b));
  const kinds = [...new Set(drift.map((f) => f.kind))].sort();
  const driftCondition: Condition = {
    type: 'drift',
    status: 'True',
    reason: 'DriftFound',
    message: `open drift findings: ${kinds.join(', ')}`,
    lastTransitionTime: oldest.first_seen,
  };
  return { drift, conditions: [...conditions.filter((c) => c.type !== 'drift'), driftCondition] };
}
