import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import type { Role } from '../db/entities/index.ts';
import type { CloudAccess } from '../providers/cloud-access.ts';

/** Everything the API needs, injected by the caller (the CLI's `serve`, or a test). */
export interface ApiDeps {
  orm: MikroORM;
  temporal: Client;
  config: HangarConfig;
  logger: Logger;
  /** Cloud clients per account (verify); absent: built from the configuration's cloud settings. */
  cloud?: CloudAccess;
}

export interface Actor {
  tokenId: string;
  name: string;
  role: Role;
}

export interface AuditNote {
  action: string;
  resourceType: string;
  resourceId?: string;
  detail?: Record<string, unknown>;
}

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    actor?: Actor;
  }
  interface Locals {
    audit?: AuditNote;
  }
}
