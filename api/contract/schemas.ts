// Shared pieces of the API contract: the error envelope, pages, path and query parameters, and
// the operation (workflow run) views most mutations answer with.
import { z } from 'zod';
import { safeText, VARCHAR } from '../../domain/text.ts';
import { ERROR_CODES, type ErrorCode } from '../../domain/errors.ts';

export const timestamp = z.iso.datetime({ offset: true });
export const uuid = z.uuid();

export const errorEnvelope = z
  .strictObject({
    error: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
    detail: z.string(),
    fields: z.record(z.string(), z.string()).optional().meta({ description: 'the offending fields, each with what is wrong' }),
  })
  .meta({
    id: 'Error',
    description: 'Every error: a code from the one error catalogue, a readable detail and, for bad input, the offending fields.',
    example: {
      error: 'validation_failed',
      detail: 'invalid request body: cpu: Too small: expected number to be >=1',
      fields: { cpu: 'Too small: expected number to be >=1' },
    },
  });

/** A page of a list: `next_cursor` goes back as `?cursor=` for the next one; null on the last page. */
export const page = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item), next_cursor: z.string().nullable() });

/** Paging parameters of every list; page_size is capped by HANGAR_API_MAX_PAGE_SIZE. */
export const paging = {
  page_size: z.coerce.number().int().min(1).optional().meta({ description: 'items per page (capped by the server)' }),
  cursor: safeText(1024).optional().meta({ description: 'next_cursor of the previous page' }),
};

/** `?dry_run=true` answers with the plan of provider calls and changes nothing. */
export const dryRun = { dry_run: z.enum(['true', 'false', '1', '0']).optional().meta({ description: 'true: answer with the plan; change nothing' }) };

/** Ids in paths are not validated as UUIDs: a malformed id is simply not found (404). */
export const idParam = (what: string) => safeText(VARCHAR).meta({ description: `${what} id (uuid)`, format: 'uuid' });
export const refParam = (what: string) => safeText(VARCHAR).meta({ description: `${what} id or name` });
export const byId = (what: string) => z.object({ id: idParam(what) });
export const byRef = (what: string) => z.object({ ref: refParam(what) });

export const condition = z.strictObject({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});

export const operationSummary = z
  .strictObject({
    id: uuid,
    kind: z.string(),
    workflow_id: z.string(),
    run_id: z.string().nullable(),
    resource: z.strictObject({ type: z.string(), id: z.string() }),
    requested_by: z.string(),
    created_at: timestamp,
    links: z.strictObject({ self: z.string(), history: z.string().meta({ description: 'the run in the Temporal UI' }) }),
  })
  .meta({
    id: 'OperationSummary',
    description: 'A workflow run started for a request; poll links.self for its status and progress.',
    example: {
      id: '5d0c1a8e-7a51-4c43-9a3e-0d4c2c3f6d10',
      kind: 'provision',
      workflow_id: 'provision-vm-3f2b',
      run_id: '0b8c6f4e-1d2a-4c55-8a77-9f3e2b1c0d9a',
      resource: { type: 'machine', id: '3f2b7c1e-2a6d-4b8e-9c0f-1a2b3c4d5e6f' },
      requested_by: 'ops',
      created_at: '2026-01-05T10:00:00.000Z',
      links: {
        self: '/api/v1/operations/5d0c1a8e-7a51-4c43-9a3e-0d4c2c3f6d10',
        history: 'http://localhost:8233/namespaces/default/workflows/provision-vm-3f2b/0b8c6f4e-1d2a-4c55-8a77-9f3e2b1c0d9a/history',
      },
    },
  });

const progressStep = z.strictObject({
  name: z.string(),
  status: z.enum(['pending', 'running', 'completed', 'failed', 'compensated', 'skipped']),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  error: z.string().optional(),
});
const failure = z.strictObject({ code: z.string(), message: z.string() });

export const progress = z
  .strictObject({
    workflow: z.string(),
    resourceId: z.string(),
    state: z.enum(['running', 'compensating', 'completed', 'failed', 'cancelled']),
    steps: z.array(progressStep),
    startedAt: z.string(),
    updatedAt: z.string(),
    error: failure.optional(),
  })
  .meta({ id: 'Progress', description: "The workflow's own account of its steps (null while no worker answers)." });

export const operationDetail = operationSummary
  .extend({
    status: z.string().meta({ description: 'running, completed, failed, cancelled, terminated, timed_out, or unknown once the history is gone' }),
    started_at: timestamp.optional(),
    closed_at: timestamp.nullable().optional(),
    progress: progress.nullable(),
    error: failure.nullable(),
  })
  .meta({ id: 'Operation', description: 'An operation with its status from Temporal and its progress.' });

/** GET /operations items: the summary with its status and run times from Temporal. */
export const operationListEntry = operationSummary
  .extend({
    status: z.string().meta({ description: 'running, completed, failed, cancelled, terminated, timed_out, or unknown (history gone or Temporal slow)' }),
    started_at: timestamp.nullable(),
    closed_at: timestamp.nullable(),
  })
  .meta({ id: 'OperationListEntry' });

export const plan = z
  .strictObject({
    dry_run: z.literal(true),
    workflow: z.string(),
    workflow_id: z.string(),
    calls: z.array(z.strictObject({ step: z.string(), call: z.string(), args: z.record(z.string(), z.unknown()) })),
  })
  .meta({ id: 'Plan', description: 'What the request would do (dry_run): the provider and inventory calls, in order.' });
