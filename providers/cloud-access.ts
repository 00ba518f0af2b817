// Builds the CloudNetworks of one account from its credentials and the cloud settings. The API
// (verify) and the worker (subnet activities) each hold one CloudAccess, made by their composition
// root with the credentials loader injected, so providers never read files themselves.
import type { CloudProvider } from '../domain/accounts.ts';
import type { AwsCredentials } from './aws/credentials.ts';
import { AwsNetworks } from './aws/aws-networks.ts';
import type { CloudNetworks } from './cloud-networks.ts';
import type { CloudRetryOptions } from './cloud-retry.ts';
import type { GcpServiceAccountKey } from './gcp/auth.ts';
import { GcpNetworks } from './gcp/gcp-networks.ts';

export interface CloudAccount {
  provider: CloudProvider;
  /** 12 digits, or the GCP project id. */
  id: string;
  regions: string[];
  credentialsRef: string | null;
}

export type LoadedCredentials = { provider: 'aws'; aws: AwsCredentials } | { provider: 'gcp'; gcp: GcpServiceAccountKey };

export interface CloudSettings {
  awsEndpoint: string;
  gcpEndpoint: string;
  retry: CloudRetryOptions;
  operationPollMs: number;
}

export interface CloudAccess {
  /** A client for the account; the caller closes it. Throws cloud_credentials_* when the credentials are missing or malformed. */
  networksFor(account: CloudAccount): CloudNetworks & { close(): void | Promise<void> };
}

export function createCloudAccess(settings: CloudSettings, loadCredentials: (account: CloudAccount) => LoadedCredentials): CloudAccess {
  return {
    networksFor(account) {
      const creds = loadCredentials(account);
      if (creds.provider === 'aws') {
        return new AwsNetworks({
          accountId: account.id,
          regions: account.regions,
          credentials: creds.aws,
          endpoint: settings.awsEndpoint || undefined,
          retry: settings.retry,
          pollMs: settings.operationPollMs,
        });
      }
      return new GcpNetworks({
        project: account.id,
        regions: account.regions,
        key: creds.gcp,
        apiEndpoint: settings.gcpEndpoint || undefined,
        retry: settings.retry,
        pollMs: settings.operationPollMs,
      });
    },
  };
}
