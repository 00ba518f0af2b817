import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import { openOrm } from '../db/orm.ts';
import { createApp, drainApp, LISTEN_BACKLOG } from '../api/app.ts';

/** The real API app on an ephemeral loopback port, with its own ORM and Temporal client. */
export async function startApiForBench(config: HangarConfig) {
  const orm = await openOrm({ url: config.database.url, poolSize: config.database.poolSize });
  const connection = await Connection.connect({ address: config.temporal.address });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({ orm, temporal, config, logger: pino({ level: 'silent' }) });
  const server: Server = await new Promise((r) => {
    const s = app.listen({ port: 0, host: '127.0.0.1', backlog: LISTEN_BACKLOG }, () => r(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    temporal,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await drainApp(app);
      await connection.close();
      await orm.close();
    },
  };
}
