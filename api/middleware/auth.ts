// Bearer-token authentication and role checks. viewer: reads; operator: mutations; admin: tokens.
import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { ApiToken, type Role } from '../../db/entities/index.ts';
import { findActiveToken } from '../../db/repositories/tokens.ts';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export const roleAllows = (have: Role, need: Role) => RANK[have] >= RANK[need];

export const isMutation = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);

// Avoid a write per request: last_used_at is refreshed at most once a minute per token.
const LAST_USED_REFRESH_MS = 60_000;

export function authenticate(orm: MikroORM): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="hangar"');
      throw new HangarError('unauthorized', 'missing bearer token: send "Authorization: Bearer <token>"');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="hangar", error="invalid_request"');
      throw new HangarError('unauthorized', 'malformed Authorization header: expected "Bearer <token>"');
    }
    const em = orm.em.fork();
    const token = await findActiveToken(em, match[1]!);
    if (!token) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="hangar", error="invalid_token"');
      throw new HangarError('unauthorized', 'invalid or revoked token');
    }
    req.actor = { tokenId: token.id, name: token.name, role: token.role };
    const now = Date.now();
    if (!token.lastUsedAt || now - token.lastUsedAt.getTime() > LAST_USED_REFRESH_MS) {
      void em.nativeUpdate(ApiToken, { id: token.id }, { lastUsedAt: new Date(now) }).catch(() => undefined);
    }
    next();
  };
}

/** Requires `role`, or by default: viewer for reads, operator for mutations. */
export function authorize(role?: Role): RequestHandler {
  return (req, _res, next) => {
    const need: Role = role ?? (isMutation(req.method) ? 'operator' : 'viewer');
    if (!req.actor) throw new HangarError('unauthorized', 'missing bearer token');
    if (!roleAllows(req.actor.role, need)) {
      throw new HangarError('forbidden', `token "${req.actor.name}" has role ${req.actor.role}; this needs ${need}`);
    }
    next();
  };
}
