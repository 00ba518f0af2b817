// POST /api/v1/accounts/{id}/actions/verify: proves the account's cloud credentials work (AWS
// GetCallerIdentity + DescribeVpcs, GCP a list of the project's networks) and records the outcome
// as the account's `credentialsVerified` condition. A failure answers in the envelope with the
// cloud's own error code leading `detail`, after the condition is recorded.
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { condition as conditionUpdate, mergeConditions } from '../../domain/host-state.ts';
import { Account } from '../../db/entities/index.ts';
import type { CloudAccess } from '../../providers/cloud-access.ts';
import type { ApiDeps } from '../context.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byId } from '../contract/schemas.ts';
import { account } from '../contract/ipam-views.ts';
import { loadById } from './common.ts';
import { accountView } from './accounts.ts';

const VERIFY_TIMEOUT_MS = 120_000;

const verification = z
  .strictObject({
    account,
    identity: z.strictObject({
      principal: z.string().meta({ description: 'AWS: the caller ARN; GCP: the service account' }),
      account: z.string().meta({ description: 'the AWS account id / GCP project the credentials act on' }),
      networks: z.int().meta({ description: 'networks the second check saw (up to 5)' }),
    }),
  })
  .meta({ id: 'AccountVerification' });

export function accountActionsRouter(deps: ApiDeps & { cloud: CloudAccess }): ContractRouter {
  const r = contractRouter({ tags: ['accounts'] });

  r.route({
    method: 'post',
    path: '/:id/actions/verify',
    summary: "Check the account's cloud credentials and record the credentialsVerified condition",
    params: byId('account'),
    responses: { 200: json(verification, 'the credentials work: the account (condition True) and who they are') },
    errors: [404, 422, 429, 502],
    handler: async ({ params }, req, res) => {
      const em = deps.orm.em.fork();
      const found = await loadById(em, Account, params.id, 'account');
      res.locals.audit = { action: 'accounts.verify', resourceType: 'account', resourceId: found.id, detail: { key: found.key } };
      const [, id] = found.key.split(':');
      const record = async (status: 'True' | 'False', reason: string, message: string) => {
        found.conditions = mergeConditions(found.conditions, [conditionUpdate('credentialsVerified', status, reason, message)]);
        await em.flush();
      };
      let client: ReturnType<CloudAccess['networksFor']> | null = null;
      try {
        client = deps.cloud.networksFor({ provider: found.provider, id: id!, regions: found.regions, credentialsRef: found.credentialsRef ?? null });
        const identity = await client.verify({ signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS) });
        await record('True', 'Verified', `${identity.principal} can act on ${identity.account} (${identity.networks} network(s) seen)`);
        res.json({ account: accountView(found), identity });
      } catch (err) {
        const failure =
          err instanceof HangarError
            ? err
            : new HangarError('cloud_unavailable', `${(err as Error)?.name ?? 'Error'}: the cloud could not be reached to verify the credentials`);
        req.log.warn({ account: found.key, code: failure.code }, 'cloud credentials check failed');
        await record('False', reasonOf(failure.code), failure.message);
        throw failure;
      } finally {
        await client?.close();
      }
    },
  });

  return r;
}

/** `cloud_credentials_invalid` → `CloudCredentialsInvalid`: condition reasons are CamelCase. */
function reasonOf(code: string): string {
  return code.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}
