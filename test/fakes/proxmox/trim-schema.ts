// Derives the Proxmox VE API schema fixture the simulator loads from the published schema
// (../shared/reference/proxmox/pve-api-schema.json, the `apiSchema` of PVE's API viewer).
// Only the endpoints the project uses are kept, with a `source` record (file, sha256, date,
// endpoint list) so a test can check the fixture still matches its source.
//
//   node test/fakes/proxmox/trim-schema.ts [source.json] [out.json]
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '../../..');
export const DEFAULT_SOURCE = resolve(REPO_ROOT, '../shared/reference/proxmox/pve-api-schema.json');
export const TRIMMED_FILE = resolve(HERE, 'pve-schema.trimmed.json');

/** `METHOD path-template`, exactly as the schema names them. */
export const ENDPOINTS: readonly string[] = [
  'GET /version',
  'GET /cluster/nextid',
  'GET /cluster/resources',
  'GET /nodes',
  'GET /nodes/{node}/qemu',
  'POST /nodes/{node}/qemu',
  'GET /nodes/{node}/qemu/{vmid}',
  'DELETE /nodes/{node}/qemu/{vmid}',
  'GET /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/config',
  'PUT /nodes/{node}/qemu/{vmid}/config',
  'GET /nodes/{node}/qemu/{vmid}/pending',
  'PUT /nodes/{node}/qemu/{vmid}/cloudinit',
  'PUT /nodes/{node}/qemu/{vmid}/unlink',
  'PUT /nodes/{node}/qemu/{vmid}/resize',
  'POST /nodes/{node}/qemu/{vmid}/template',
  'POST /nodes/{node}/qemu/{vmid}/clone',
  'GET /nodes/{node}/qemu/{vmid}/status/current',
  'POST /nodes/{node}/qemu/{vmid}/status/start',
  'POST /nodes/{node}/qemu/{vmid}/status/stop',
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
  'POST /nodes/{node}/qemu/{vmid}/status/reboot',
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
  'GET /nodes/{node}/storage',
  'GET /nodes/{node}/storage/{storage}/content',
  'GET /nodes/{node}/storage/{storage}/content/{volume}',
  'DELETE /nodes/{node}/storage/{storage}/content/{volume}',
  'POST /nodes/{node}/storage/{storage}/upload',
  'POST /nodes/{node}/storage/{storage}/download-url',
  'GET /nodes/{node}/tasks',
  'GET /nodes/{node}/tasks/{upid}/status',
  'GET /nodes/{node}/tasks/{upid}/log',
  'DELETE /nodes/{node}/tasks/{upid}',
];

export interface TrimmedSource {
  file: string;
  sha256: string;
  date: string;
  generator: string;
  endpoints: string[];
}
export type TrimmedEndpoints = Record<string, Record<string, unknown>>;
export interface TrimmedSchema {
  source: TrimmedSource;
  endpoints: TrimmedEndpoints;
}

interface SchemaNode {
  path?: string;
  info?: Record<string, unknown>;
  children?: SchemaNode[];
}

// Long prose that the validator never reads; dropping it keeps the fixture reviewable.
const DROPPED_KEYS = new Set(['verbose_description', 'permissions']);

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (DROPPED_KEYS.has(key)) continue;
      out[key] = strip((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

/** The `endpoints` section: `{ "<path>": { "<METHOD>": info } }` for the listed endpoints, in list order. */
export function trimEndpoints(sourceText: string, endpoints: readonly string[] = ENDPOINTS): TrimmedEndpoints {
  const tree = JSON.parse(sourceText) as SchemaNode[] | SchemaNode;
  const byPath = new Map<string, SchemaNode>();
  const walk = (n: SchemaNode) => {
    if (n.path) byPath.set(n.path, n);
    for (const c of n.children ?? []) walk(c);
  };
  for (const n of Array.isArray(tree) ? tree : [tree]) walk(n);

  const out: TrimmedEndpoints = {};
  for (const ep of endpoints) {
    const [method, path] = ep.split(' ') as [string, string];
    const node = byPath.get(path);
    const info = node?.info?.[method];
    if (!info) throw new Error(`schema has no ${ep}`);
    (out[path] ??= {})[method] = strip(info);
  }
  return out;
}

export function trimSchema(sourcePath: string = DEFAULT_SOURCE, date: Date = new Date()): TrimmedSchema {
  const text = readFileSync(sourcePath, 'utf8');
  return {
    source: {
      file: relative(REPO_ROOT, sourcePath),
      sha256: createHash('sha256').update(text).digest('hex'),
      date: date.toISOString().slice(0, 10),
      generator: relative(REPO_ROOT, fileURLToPath(import.meta.url)),
      endpoints: [...ENDPOINTS],
    },
    endpoints: trimEndpoints(text),
  };
}

function main(argv: string[]): void {
  const source = resolve(argv[0] ?? DEFAULT_SOURCE);
  const out = resolve(argv[1] ?? TRIMMED_FILE);
  if (!existsSync(source)) {
    process.stderr.write(`schema source not found: ${source}\n`);
    process.exit(1);
  }
  const trimmed = trimSchema(source);
  writeFileSync(out, `${JSON.stringify(trimmed, null, 1)}\n`);
  process.stdout.write(
    `wrote ${relative(process.cwd(), out)}: ${ENDPOINTS.length} endpoints from ${trimmed.source.file} (sha256 ${trimmed.source.sha256.slice(0, 12)}…)\n`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
