// No Docker engine runs here, so the scale-out compose file is checked statically.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../support/services.ts';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  container_name?: string;
  secrets?: string[];
}
const compose = parse(readFileSync(resolve(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('has PostgreSQL, Temporal, the Temporal UI, the API and a worker', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'api', 'worker']) expect(services).toHaveProperty(name);
  });

  it('pins every image to an exact version', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.image).toBeDefined();
      const tag = svc.image!.split(':')[1];
      // PostgreSQL versions have two parts (16.4); everything else three.
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/) });
    }
  });

  it('gives every long-running service a health check', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'api', 'worker']) expect(services[name]!.healthcheck?.test).toBeDefined();
  });

  it('uses PostgreSQL persistence for Temporal', () => {
    const env = services.temporal!.environment!;
    expect(env.DB).toMatch(/^postgres/);
    expect(env.POSTGRES_SEEDS).toBe('postgresql');
    expect(services.temporal!.depends_on!.postgresql!.condition).toBe('service_healthy');
    expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('wires the API and worker to the database and Temporal, with secrets from files', () => {
    for (const name of ['api', 'worker']) {
      const svc = services[name]!;
      expect(svc.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(svc.environment!.DATABASE_URL_FILE).toBe('/run/secrets/hangar_database_url');
      expect(svc.environment).not.toHaveProperty('DATABASE_URL');
      expect(svc.secrets).toContain('hangar_database_url');
      expect(svc.depends_on!.temporal!.condition).toBe('service_healthy');
      expect(svc.depends_on!.migrate!.condition).toBe('service_completed_successfully');
    }
    expect(services.api!.command).toEqual(['serve']);
    expect(services.worker!.command).toEqual(['worker']);
    expect(compose.secrets.hangar_database_url!.file).toBeDefined();
  });

  it('keeps the worker scalable: no container name and no host ports', () => {
    expect(services.worker!.container_name).toBeUndefined();
    expect(services.worker!.ports).toBeUndefined();
  });

  it('publishes ports on loopback only', () => {
    for (const svc of Object.values(services)) for (const p of svc.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  it('builds the Hangar image whose entrypoint is the CLI', () => {
    const dockerfile = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:24\.\d+\.\d+-/m);
    expect(dockerfile).toContain('"cli/main.ts"');
    expect(dockerfile).toMatch(/^USER hangar$/m);
  });
});
