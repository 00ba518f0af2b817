// Test-mode response check: every answer is compared with the declaration of the route that gave
// it (status declared? body matching its schema? no body on 204?). A mismatch is recorded and
// logged; the test harness fails the suite when any was recorded. Off in production.
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { ApiContract, ContractOperation } from './registry.ts';
import type { DeclaredRoute } from './route.ts';
import { errorEnvelope } from './schemas.ts';

export interface ContractViolation {
  method: string;
  path: string;
  status: number;
  problem: string;
}

function problemWith(
  route: DeclaredRoute | ContractOperation | undefined,
  status: number,
  sent: { json: boolean; body: unknown; type: string },
): string | null {
  const decl = route?.responses[status];
  if (!decl) {
    if (status >= 400 && (!route || route.errors.includes(status))) {
      if (!sent.json) return `error ${status} is not the JSON error envelope`;
      const parsed = errorEnvelope.safeParse(sent.body);
      return parsed.success ? null : `error envelope does not conform: ${z.prettifyError(parsed.error)}`;
    }
    return `status ${status} is not declared${route ? ` for ${route.method.toUpperCase()} ${route.path}` : ''}`;
  }
  if (decl.empty) return sent.json || sent.type ? `status ${status} is declared without a body but one was sent` : null;
  if (!sent.json) {
    return decl.media?.some((type) => sent.type.startsWith(type)) ? null : `status ${status} answered ${sent.type || 'no body'}, not a declared media type`;
  }
  if (!decl.json) return `status ${status} answered JSON, which is not declared`;
  // What the client receives: dates and the like as JSON text.
  const parsed = decl.json.safeParse(JSON.parse(JSON.stringify(sent.body ?? null)));
  return parsed.success ? null : `body does not conform to the declared schema: ${z.prettifyError(parsed.error)}`;
}

export function responseCheck(contract: ApiContract, violations: ContractViolation[]): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const sent = { json: false, body: undefined as unknown, type: '' };
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      sent.json = true;
      sent.body = body;
      return json(body);
    };
    // The metadata fast path answers with writeHead(status, headers), which getHeader cannot see.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => typeof res;
    res.writeHead = ((...args: unknown[]) => {
      const headers = args.find((a): a is Record<string, unknown> => !!a && typeof a === 'object' && !Array.isArray(a));
      const type = headers && Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type');
      if (type) sent.type = String(type[1]);
      return writeHead(...args);
    }) as typeof res.writeHead;
    res.on('finish', () => {
      sent.type = String(res.getHeader('content-type') ?? sent.type);
      const path = new URL(req.originalUrl, 'http://api').pathname;
      const route = res.locals.route ?? contract.match(req.method, path);
      const problem = problemWith(route, res.statusCode, sent);
      if (!problem) return;
      const violation = { method: req.method, path, status: res.statusCode, problem };
      violations.push(violation);
      req.log?.error(violation, 'response does not match the API contract');
    });
    next();
  };
}
