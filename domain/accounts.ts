// Cloud accounts: `aws:<12 digits>` or `gcp:<project-id>`, with region names checked per provider.
import { z } from 'zod';
import { safeText, VARCHAR } from './text.ts';

// GCP project ids: 6-30 characters, lowercase letters, digits and hyphens, starting with a letter
// and not ending with a hyphen.
const GCP_PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const AWS_ACCOUNT = /^\d{12}$/;
const DIRECTIONS = '(north|south|east|west|central|northeast|southeast|northwest|southwest)';
const AWS_REGION = new RegExp(`^(us|eu|ap|sa|ca|me|af|il|mx)(-gov|-iso|-isob)?-${DIRECTIONS}-\\d{1,2}$`);
const GCP_REGION = new RegExp(`^(us|europe|asia|australia|northamerica|southamerica|me|africa)-${DIRECTIONS}\\d{1,2}$`);

export type CloudProvider = 'aws' | 'gcp';

export function parseAccountKey(key: string): { provider: CloudProvider; id: string } | { error: string } {
  const [prefix, id, ...rest] = key.split(':');
  if (rest.length || id === undefined) return { error: 'must be "aws:<12 digits>" or "gcp:<project-id>"' };
  if (prefix === 'aws') return AWS_ACCOUNT.test(id) ? { provider: 'aws', id } : { error: 'an AWS account id is exactly 12 digits' };
  if (prefix === 'gcp') {
    return GCP_PROJECT.test(id)
      ? { provider: 'gcp', id }
      : { error: 'a GCP project id has 6-30 lowercase letters, digits or hyphens, starts with a letter and does not end with a hyphen' };
  }
  return { error: 'must start with "aws:" or "gcp:"' };
}

export function isRegionOf(provider: CloudProvider, region: string): boolean {
  return (provider === 'aws' ? AWS_REGION : GCP_REGION).test(region);
}

const accountFields = {
  name: safeText(VARCHAR, 1),
  platform: safeText(VARCHAR).nullable().optional(),
  tier: z.enum(['dev', 'stg', 'sbx', 'prd']).nullable().optional(),
  environment: safeText(VARCHAR).nullable().optional(),
  regions: z.array(safeText(64)).max(64).optional(),
  credentials_ref: z
    .string()
    .regex(
      /^(file:[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}|env:HANGAR_CLOUD_CREDENTIALS_[A-Z0-9_]{1,200})$/,
      'must be file:<name in the credentials folder> or env:HANGAR_CLOUD_CREDENTIALS_<NAME>',
    )
    .nullable()
    .optional()
    .meta({
      description:
        'Where the credentials are (a reference, never the secret); absent: <provider>-<id>.json in the credentials folder, else HANGAR_CLOUD_CREDENTIALS_<PROVIDER>_<ID>',
    }),
};

export const createAccountSchema = z.strictObject({ key: safeText(64, 1), ...accountFields }).superRefine((v, ctx) => {
  const parsed = parseAccountKey(v.key);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', path: ['key'], message: parsed.error });
    return;
  }
  checkRegions(parsed.provider, v.regions, ctx);
});

export const updateAccountSchema = z.strictObject({
  name: accountFields.name.optional(),
  platform: accountFields.platform,
  tier: accountFields.tier,
  environment: accountFields.environment,
  regions: accountFields.regions,
  credentials_ref: accountFields.credentials_ref,
});

export function checkRegions(provider: CloudProvider, regions: string[] | undefined, ctx: z.RefinementCtx): void {
  (regions ?? []).forEach((r, i) => {
    if (!isRegionOf(provider, r)) ctx.addIssue({ code: 'custom', path: ['regions', i], message: `"${r}" is not a ${provider.toUpperCase()} region name` });
  });
}
