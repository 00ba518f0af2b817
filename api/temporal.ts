// The API's Temporal connection. Lazy, so the API starts (and /readyz explains) while Temporal is
// still coming up; and with few gRPC retries, because a user is waiting and can retry themselves.
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { HangarConfig } from '../domain/config.ts';

export function apiTemporalClient(config: Pick<HangarConfig, 'temporal'>): { client: Client; connection: Connection } {
  const connection = Connection.lazy({
    address: config.temporal.address,
    connectTimeout: '5s',
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 4 }))],
  });
  return { client: new Client({ connection, namespace: config.temporal.namespace }), connection };
}
