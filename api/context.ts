import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { HangarConfig } from '../domain/config.ts';
import type { Role } from '../db/entities/index.ts';

/** Everything the API needs, injected by the caller (the CLI's `serve`, or a test). */
export interface ApiDeps {
  orm: MikroORM;
  temporal: Client;
  config: HangarConfig;
  logger: Logger;
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
