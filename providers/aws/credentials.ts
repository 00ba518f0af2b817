// AWS credentials for one account: static keys, or an assume-role ARN that STS turns into
// temporary keys (refreshed five minutes before they expire). The SDK gets a provider function,
// so no key is ever part of a request's parameters, a log line or an error.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { HangarError } from '../../domain/errors.ts';
import { awsErrorCode, toAwsHangarError } from './errors.ts';

export interface AwsStaticKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsCredentials extends AwsStaticKeys {
  /** Assume this role with the keys above; its temporary keys then make every call. */
  roleArn?: string;
  externalId?: string;
  sessionName?: string;
}

/** What the SDK clients accept as `credentials` (the shape of @aws-sdk/types' identity). */
export interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
export type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>;

const REFRESH_BEFORE_MS = 5 * 60_000;

/** A credentials provider for the SDK clients: the static keys, or the assumed role's keys (cached). */
export function awsCredentialProvider(creds: AwsCredentials, sts: { region: string; endpoint?: string }): AwsCredentialIdentityProvider {
  const base: AwsCredentialIdentity = {
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
  };
  if (!creds.roleArn) return async () => base;
  const roleArn = creds.roleArn;
  let cached: AwsCredentialIdentity | null = null;
  let pending: Promise<AwsCredentialIdentity> | null = null;
  const assume = async (): Promise<AwsCredentialIdentity> => {
    const client = new STSClient({ region: sts.region, credentials: base, maxAttempts: 3, ...(sts.endpoint ? { endpoint: sts.endpoint } : {}) });
    try {
      const out = await client.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: creds.sessionName ?? 'hangar',
          ...(creds.externalId ? { ExternalId: creds.externalId } : {}),
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new HangarError('cloud_credentials_invalid', `AssumeRole: STS returned no credentials for ${roleArn}`);
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    } catch (err) {
      // AssumeRole refusing the role is a credentials problem whatever AWS calls it.
      const mapped = toAwsHangarError(err, `AssumeRole ${roleArn}`);
      if (mapped instanceof HangarError && mapped.code === 'cloud_rejected') {
        throw new HangarError('cloud_credentials_invalid', `${awsErrorCode(err)}: AssumeRole ${roleArn}: ${mapped.message.split(': ').slice(2).join(': ')}`);
      }
      throw mapped;
    } finally {
      client.destroy();
    }
  };
  return async () => {
    if (cached && (!cached.expiration || cached.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS)) return cached;
    pending ??= assume().finally(() => {
      pending = null;
    });
    cached = await pending;
    return cached;
  };
}
