// API tokens: random 256-bit secrets, stored only as SHA-256 hashes.
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { HangarError } from '../../domain/errors.ts';
import { ApiToken, type IApiToken, type Role } from '../entities/index.ts';

export const TOKEN_PREFIX = 'hgr_';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface IssuedToken {
  token: string;
  record: IApiToken;
}

export async function issueToken(em: EntityManager, name: string, role: Role): Promise<IssuedToken> {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const record = em.create(ApiToken, {
    id: crypto.randomUUID(),
    name,
    role,
    tokenHash: hashToken(token),
    prefix: token.slice(0, 10),
  });
  try {
    await em.flush();
  } catch (err) {
    if (err instanceof UniqueConstraintViolationException) {
      em.clear();
      throw new HangarError('already_exists', `a token named "${name}" already exists`, { name: 'already exists' });
    }
    throw err;
  }
  return { token, record };
}

/** Ensures a token with this exact secret exists (used for a configured bootstrap token). */
export async function ensureToken(em: EntityManager, name: string, role: Role, token: string): Promise<void> {
  await em.getConnection().execute(
    `insert into api_token (id, name, role, token_hash, prefix, created_at) values (?, ?, ?, ?, ?, now())
     on conflict (name) do update set token_hash = excluded.token_hash, role = excluded.role, prefix = excluded.prefix, revoked_at = null`,
    [crypto.randomUUID(), name, role, hashToken(token), token.slice(0, 10)],
    'run',
  );
}

export async function findActiveToken(em: EntityManager, token: string): Promise<IApiToken | null> {
  if (!token.startsWith(TOKEN_PREFIX) || token.length > 128) return null;
  return em.findOne(ApiToken, { tokenHash: hashToken(token), revokedAt: null });
}

export function tokenView(t: IApiToken) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    prefix: t.prefix,
    created_at: t.createdAt,
    last_used_at: t.lastUsedAt ?? null,
    revoked_at: t.revokedAt ?? null,
  };
}
