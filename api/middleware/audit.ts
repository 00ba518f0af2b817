// Every authenticated mutation leaves an audit_event, whatever its outcome.
import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AuditEvent } from '../../db/entities/index.ts';
import { isMutation } from './auth.ts';
import { routeLabel } from './observability.ts';

export function auditMutations(orm: MikroORM): RequestHandler {
  return (req, res, next) => {
    if (!isMutation(req.method)) return next();
    res.on('finish', () => {
      if (!req.actor) return; // unauthenticated attempts are in the access log, not the audit trail
      const note = res.locals.audit;
      const em = orm.em.fork();
      em.create(AuditEvent, {
        actor: req.actor.name,
        action: note?.action ?? `${req.method} ${routeLabel(req)}`,
        resourceType: note?.resourceType ?? (req.baseUrl.split('/').pop() || 'unknown'),
        resourceId: note?.resourceId ?? null,
        requestId: req.id,
        statusCode: res.statusCode,
        detail: note?.detail ?? null,
      });
      em.flush().catch((err: unknown) => req.log.error({ err }, 'audit write failed'));
    });
    next();
  };
}
