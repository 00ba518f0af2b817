// Contract-first routes: each route declares its method, path, inputs and every response in one
// object next to its handler. The same declaration validates the request, types the handler's
// input, generates /openapi.json (api/contract/document.ts) and, in tests, checks each response.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { parseOrThrow, requireJsonObject } from '../middleware/validate.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A declared response: a JSON body, other media types, or no body at all (204). */
export interface ResponseDecl {
  description: string;
  json?: z.ZodType;
  /** Non-JSON media types (text/plain, text/csv, application/x-iso9660-image, ...). */
  media?: string[];
  empty?: true;
}

export const json = (schema: z.ZodType, description = 'OK'): ResponseDecl => ({ description, json: schema });
export const noContent = (description = 'done; no body'): ResponseDecl => ({ description, empty: true });
export const media = (type: string, description: string): ResponseDecl => ({ description, media: [type] });
/** JSON, or another media type the client asked for (e.g. ?format=csv). */
export const jsonOr = (schema: z.ZodType, types: string[], description: string): ResponseDecl => ({ description, json: schema, media: types });

/** What a handler receives: the path params, query and body, parsed by the declared schemas. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<P extends z.ZodType | undefined, Q extends z.ZodType | undefined, B extends z.ZodType | undefined> {
  method: Method;
  /** Express path relative to the router's mount point, e.g. '/:id/disks'. */
  path: string;
  summary: string;
  description?: string;
  /** Defaults to the router's tags. */
  tags?: string[];
  /** 'bearer' (default): needs an API token. 'none': open (health, metadata). */
  security?: 'bearer' | 'none';
  params?: P;
  query?: Q;
  body?: B;
  /** false: the body may be absent (the handler then gets undefined). */
  bodyRequired?: boolean;
  /** Media types the body may also come as besides JSON (parsed by a `before` middleware). */
  bodyMedia?: string[];
  /** Middleware that must run before the input is parsed (e.g. a token check before any body parser). */
  before?: RequestHandler[];
  /** Replaces the plain schema parse when one body schema must pick between shapes (errors stay per field). */
  parseBody?: (raw: Record<string, unknown>) => Out<B>;
  /** The route honours an Idempotency-Key header (default: every authenticated mutation does). */
  idempotent?: boolean;
  /** Every success status the route answers. */
  responses: Record<number, ResponseDecl>;
  /** Statuses answered with the error envelope, besides those the helper derives (400, 401, 403). */
  errors?: number[];
  handler: (input: RouteInput<Out<P>, Out<Q>, Out<B>>, req: Request, res: Response) => unknown;
}

/** A route as the registry keeps it: the declaration without its generics. */
export interface DeclaredRoute {
  method: Method;
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  security: 'bearer' | 'none';
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  bodyRequired: boolean;
  bodyMedia: string[];
  idempotent: boolean;
  responses: Record<number, ResponseDecl>;
  /** All error statuses, derived and declared, sorted. */
  errors: number[];
}

/** Marks the Express handlers this helper installs, so a test can prove no route bypasses it. */
export const DECLARED = Symbol('hangar.declaredRoute');

export interface ContractRouter {
  express: Router;
  routes: DeclaredRoute[];
  route<P extends z.ZodType | undefined = undefined, Q extends z.ZodType | undefined = undefined, B extends z.ZodType | undefined = undefined>(
    spec: RouteSpec<P, Q, B>,
  ): void;
}

function errorStatuses(spec: Pick<AnySpec, 'errors' | 'params' | 'query' | 'body' | 'security' | 'idempotent'>): number[] {
  const out = new Set(spec.errors ?? []);
  // Any request can be bad input: api/middleware/input-guard.ts refuses a path or query string
  // PostgreSQL could not store (NUL, a lone surrogate, an undecodable escape) on every route.
  out.add(400);
  if (spec.body) out.add(413);
  if ((spec.security ?? 'bearer') === 'bearer') {
    out.add(401);
    out.add(403);
  }
  if (spec.idempotent) {
    out.add(400); // malformed key
    out.add(409); // the first request with this key is still running
    out.add(422); // key reused for a different request
  }
  return [...out].sort((a, b) => a - b);
}

type AnySpec = RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>;
type Defaults = { tags: string[]; security?: 'bearer' | 'none' };

/** The registry's form of a route's declaration (also for routes whose handlers live elsewhere). */
export function declaration(spec: Omit<AnySpec, 'handler' | 'parseBody' | 'before'>, defaults: Defaults): DeclaredRoute {
  const named = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  if (named.length && !spec.params) throw new Error(`${spec.method.toUpperCase()} ${spec.path}: declare its path params`);
  const security = spec.security ?? defaults.security ?? 'bearer';
  const idempotent = spec.idempotent ?? (security === 'bearer' && spec.method !== 'get');
  return {
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    tags: spec.tags ?? defaults.tags,
    security,
    bodyRequired: spec.bodyRequired ?? true,
    bodyMedia: spec.bodyMedia ?? [],
    idempotent,
    responses: spec.responses,
    errors: errorStatuses({ ...spec, security, idempotent }),
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.params ? { params: spec.params } : {}),
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.body ? { body: spec.body } : {}),
  };
}

/** A router whose every route goes through a declaration. */
export function contractRouter(defaults: Defaults): ContractRouter {
  const express = Router();
  const routes: DeclaredRoute[] = [];
  return {
    express,
    routes,
    route(spec) {
      const declared = declaration(spec as unknown as AnySpec, defaults);
      routes.push(declared);
      const mark: RequestHandler = (_req, res, next) => {
        res.locals.route = declared;
        next();
      };
      const handle = async (req: Request, res: Response) => {
        const params = spec.params ? parseOrThrow(spec.params, req.params, 'path') : undefined;
        const query = spec.query ? parseOrThrow(spec.query, req.query, 'query') : undefined;
        let body: unknown;
        if (spec.body && (declared.bodyRequired || req.body !== undefined)) {
          const raw = requireJsonObject(req);
          body = spec.parseBody ? spec.parseBody(raw) : parseOrThrow(spec.body, raw, 'request body');
        }
        await spec.handler({ params, query, body } as never, req, res);
      };
      Object.defineProperty(handle, DECLARED, { value: declared });
      express[spec.method](spec.path, mark, ...(spec.before ?? []), handle);
    },
  };
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The declaration of the route that is answering (set before its input is parsed). */
    route?: DeclaredRoute;
  }
}
