// Idempotency-Key on mutations: the first response (status + body) is stored per token and key;
// a retry with the same key and body gets it back instead of doing the work twice.
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { HangarError } from '../../domain/errors.ts';
import { idempotencyKeySchema } from '../../domain/text.ts';
import { isMutation } from './auth.ts';

interface StoredRow {
  id: string;
  request_hash: string;
  status_code: number | null;
  response_body: unknown;
}

export function idempotency(orm: MikroORM): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('idempotency-key');
    if (!key || !isMutation(req.method) || !req.actor) return next();
    if (!idempotencyKeySchema.safeParse(key).success)
      throw new HangarError('validation_failed', 'Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 . _ : -', { 'Idempotency-Key': 'invalid' });

    const hash = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');
    const conn = orm.em.getConnection();
    const inserted = await conn.execute<{ id: string }[]>(
      `insert into idempotency_record (id, actor, key, method, path, request_hash, created_at)
       values (?, ?, ?, ?, ?, ?, now()) on conflict (actor, key) do nothing returning id`,
      [crypto.randomUUID(), req.actor.name, key, req.method, req.originalUrl, hash],
    );
    if (!inserted[0]) {
      const [row] = await conn.execute<StoredRow[]>(`select id, request_hash, status_code, response_body from idempotency_record where actor = ? and key = ?`, [
        req.actor.name,
        key,
      ]);
      if (!row) throw new HangarError('conflict', 'Idempotency-Key record vanished; retry the request');
      if (row.request_hash !== hash) {
        throw new HangarError('idempotency_key_reused', 'this Idempotency-Key was already used for a different request');
      }
      if (row.status_code === null) {
        throw new HangarError('conflict', 'a request with this Idempotency-Key is still being processed; retry shortly');
      }
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(row.status_code).json(row.response_body);
      return;
    }

    const recordId = inserted[0].id;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      // Server errors are not remembered: the client should be able to retry them for real.
      const store =
        res.statusCode < 500
          ? conn.execute(
              `update idempotency_record set status_code = ?, response_body = ? where id = ?`,
              [res.statusCode, JSON.stringify(body ?? null), recordId],
              'run',
            )
          : conn.execute(`delete from idempotency_record where id = ?`, [recordId], 'run');
      store.then(
        () => json(body),
        (err: unknown) => {
          req.log.error({ err }, 'idempotency record update failed');
          json(body);
        },
      );
      return res;
    };
    next();
  };
}
