// Where a cloud account's credentials come from, read only where they are used (the API's verify,
// the worker's activities) and never stored, logged or returned. An account's `credentials_ref`
// names a file in the credentials folder (`file:<name>`) or an environment variable
// (`env:HANGAR_CLOUD_CREDENTIALS_<…>`); without one, the file `<provider>-<account id>.json` in the
// folder, else the variable `HANGAR_CLOUD_CREDENTIALS_<PROVIDER>_<ACCOUNT ID>`. A file readable by
// group or others is refused. Errors name the file or variable, never its content.
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { HangarError } from '../domain/errors.ts';
import type { CloudProvider } from '../domain/accounts.ts';
import type { HangarConfig } from '../domain/config.ts';
import { createCloudAccess, type CloudAccess } from '../providers/cloud-access.ts';
import type { AwsCredentials } from '../providers/aws/credentials.ts';
import { parseServiceAccountKey, type GcpServiceAccountKey } from '../providers/gcp/auth.ts';

export const ENV_PREFIX = 'HANGAR_CLOUD_CREDENTIALS_';

export interface CredentialSettings {
  dataDir: string;
  cloud: { credentialsDir: string };
}

export interface AccountRef {
  provider: CloudProvider;
  /** The id after the prefix: 12 digits, or the GCP project. */
  id: string;
  credentialsRef: string | null;
}

export type CloudCredentials = { provider: 'aws'; aws: AwsCredentials } | { provider: 'gcp'; gcp: GcpServiceAccountKey };

export function credentialsFolder(settings: CredentialSettings): string {
  return resolve(settings.cloud.credentialsDir || resolve(settings.dataDir, 'secrets', 'cloud'));
}

export const defaultFileName = (a: Pick<AccountRef, 'provider' | 'id'>) => `${a.provider}-${a.id}.json`;
export const defaultEnvName = (a: Pick<AccountRef, 'provider' | 'id'>) => `${ENV_PREFIX}${a.provider.toUpperCase()}_${a.id.toUpperCase().replace(/-/g, '_')}`;

/** Reads and checks the account's credentials from its file or variable. */
export function loadCloudCredentials(settings: CredentialSettings, account: AccountRef, env: NodeJS.ProcessEnv = process.env): CloudCredentials {
  const { text, origin } = readSource(settings, account, env);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: say only where it was.
    throw new HangarError('cloud_credentials_invalid', `${origin} is not valid JSON`);
  }
  if (account.provider === 'gcp') return { provider: 'gcp', gcp: parseServiceAccountKey(parsed, origin) };
  return { provider: 'aws', aws: parseAwsCredentials(parsed, origin) };
}

function readSource(settings: CredentialSettings, account: AccountRef, env: NodeJS.ProcessEnv): { text: string; origin: string } {
  const ref = account.credentialsRef;
  if (ref?.startsWith('env:')) return fromEnv(ref.slice(4), env, true)!;
  const folder = credentialsFolder(settings);
  const file = resolve(folder, ref?.startsWith('file:') ? ref.slice(5) : defaultFileName(account));
  const fromFile = readSecretFile(file, ref !== null);
  if (fromFile) return fromFile;
  const variable = defaultEnvName(account);
  const fromVariable = fromEnv(variable, env, false);
  if (fromVariable) return fromVariable;
  throw new HangarError('cloud_credentials_missing', `no credentials for ${account.provider}:${account.id}: neither ${file} nor ${variable} exists`);
}

function fromEnv(variable: string, env: NodeJS.ProcessEnv, required: boolean): { text: string; origin: string } | null {
  const text = env[variable];
  if (text) return { text, origin: `environment variable ${variable}` };
  if (required) throw new HangarError('cloud_credentials_missing', `environment variable ${variable} is not set`);
  return null;
}

function readSecretFile(file: string, required: boolean): { text: string; origin: string } | null {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return null;
    throw new HangarError('cloud_credentials_missing', `${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((mode & 0o077) !== 0) {
    throw new HangarError('cloud_credentials_invalid', `${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return { text: readFileSync(file, 'utf8'), origin: file };
}

function parseAwsCredentials(raw: unknown, origin: string): AwsCredentials {
  const o = (raw ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
  const accessKeyId = str('access_key_id');
  const secretAccessKey = str('secret_access_key');
  if (typeof raw !== 'object' || raw === null || !accessKeyId || !secretAccessKey) {
    throw new HangarError('cloud_credentials_invalid', `${origin}: access_key_id and secret_access_key are required (role_arn optional)`);
  }
  const roleArn = str('role_arn');
  if (roleArn && !/^arn:aws[\w-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(roleArn)) {
    throw new HangarError('cloud_credentials_invalid', `${origin}: role_arn must be arn:aws:iam::<12 digits>:role/<name>`);
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(str('session_token') ? { sessionToken: str('session_token') } : {}),
    ...(roleArn ? { roleArn } : {}),
    ...(str('external_id') ? { externalId: str('external_id') } : {}),
    ...(str('session_name') ? { sessionName: str('session_name') } : {}),
  };
}

/** The CloudAccess of a process: cloud settings from the configuration, credentials read by this module. */
export function cloudAccessFromConfig(config: CredentialSettings & { cloud: HangarConfig['cloud'] }, env: NodeJS.ProcessEnv = process.env): CloudAccess {
  const c = config.cloud;
  return createCloudAccess(
    {
      awsEndpoint: c.awsEndpoint,
      gcpEndpoint: c.gcpEndpoint,
      retry: { initialMs: c.retryInitialMs, maxMs: c.retryMaxMs, attempts: c.retryAttempts },
      operationPollMs: c.operationPollMs,
    },
    (account) => loadCloudCredentials(config, account, env),
  );
}
