// POST /cloud-init/<id>/<token>/phone-home: cloud-init's phone_home module reports that the
// machine booted. The report is recorded on the machine and signalled to its provision workflow.
import express, { type Request, type RequestHandler, type Response } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { HangarError } from '../../domain/errors.ts';
import { isStorable } from '../../domain/text.ts';
import { phoneHomeSignal, provisionWorkflowId } from '../../workflows/contracts.ts';
import { machineTokenById, recordPhoneHome } from '../../db/repositories/metadata.ts';
import type { ApiDeps } from '../context.ts';
import { hideToken, MAX_TOKEN_LENGTH, notFound, tokenMatches, UUID } from './token.ts';

const PHONE_HOME_MAX_KEYS = 20;
const PHONE_HOME_MAX_VALUE_BYTES = 4096;
const PHONE_HOME_MAX_KEY_LENGTH = 64;

/** Keeps at most 20 storable string fields of ≤ 4 KiB each (cloud-init sends instance_id, hostname, fqdn, pub_key_*). */
export function phoneHomePayload(body: unknown): Record<string, string> {
  const out: [string, string][] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (out.length >= PHONE_HOME_MAX_KEYS) break;
    if (typeof value !== 'string' || key.length > PHONE_HOME_MAX_KEY_LENGTH) continue;
    // Stored as jsonb: a field PostgreSQL cannot store (NUL, lone surrogate) is dropped like an over-long one.
    if (!isStorable(key) || !isStorable(value)) continue;
    if (Buffer.byteLength(value, 'utf8') > PHONE_HOME_MAX_VALUE_BYTES) continue;
    out.push([key, value]);
  }
  return Object.fromEntries(out);
}

/** The phone-home route's parts: token check and body parsers (`before`), then record and signal. */
export function phoneHomeHandlers(deps: ApiDeps): {
  before: RequestHandler[];
  record: (payload: Record<string, string>, req: Request, res: Response) => Promise<void>;
} {
  // The token is checked before any body is parsed.
  const checkToken: RequestHandler = async (req, res, next) => {
    const { machineId, token } = req.params as Record<string, string>;
    hideToken(req);
    const row = UUID.test(machineId ?? '') && (token ?? '').length <= MAX_TOKEN_LENGTH ? await machineTokenById(deps.orm.em.fork(), machineId!) : null;
    if (!tokenMatches(row?.metadata_token ?? null, (token ?? '').slice(0, MAX_TOKEN_LENGTH)) || !row) throw notFound();
    res.locals.cloudInitMachineId = row.id;
    next();
  };

  const record = async (payload: Record<string, string>, req: Request, res: Response) => {
    const machineId = res.locals.cloudInitMachineId as string;
    if (!(await recordPhoneHome(deps.orm.em.fork(), machineId, payload))) throw notFound();
    req.log.info({ machineId, instanceId: payload.instance_id, hostname: payload.hostname }, 'machine phoned home');
    const workflowId = provisionWorkflowId(machineId);
    try {
      // Signalling without a run id reaches the latest run; a closed or missing run answers
      // not-found, which is fine: nothing waits for this phone-home.
      await deps.temporal.workflow.getHandle(workflowId).signal(phoneHomeSignal, payload);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) {
        // Recorded, but a waiting workflow may not know: a 503 makes cloud-init retry.
        req.log.warn({ err, workflowId }, 'could not signal phone-home to the workflow');
        throw new HangarError('unavailable', 'phone-home recorded but the workflow could not be signalled; retry');
      }
    }
    res.status(200).json({ status: 'recorded' });
  };

  return {
    before: [
      checkToken,
      // cloud-init posts urlencoded fields; JSON is accepted too. 20 fields × 4 KiB fit easily.
      express.urlencoded({ extended: false, limit: '96kb', parameterLimit: 100 }),
      express.json({ limit: '96kb' }),
    ],
    record,
  };
}
