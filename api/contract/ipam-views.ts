// Response schemas of the IPAM resources (networks and leases, accounts, pools, allocations,
// blocks and utilization), matching the *View functions of their routes. The test-mode response
// check (api/contract/response-check.ts) holds the two together.
import { z } from 'zod';
import { condition, timestamp, uuid } from './schemas.ts';

const text = z.string();

export const network = z
  .strictObject({
    id: uuid,
    name: text,
    cidr: text,
    version: z.union([z.literal(4), z.literal(6)]),
    gateway: text.nullable(),
    dns_servers: z.array(text),
    search_domains: z.array(text),
    vlan: z.int().nullable(),
    bridge: text.nullable(),
    range_start: text.nullable(),
    range_end: text.nullable(),
    reserved: z.array(text),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({
    id: 'Network',
    example: {
      id: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f',
      name: 'lab',
      cidr: '10.20.0.0/24',
      version: 4,
      gateway: '10.20.0.1',
      dns_servers: ['10.20.0.1'],
      search_domains: ['lab.example'],
      vlan: 20,
      bridge: 'vmbr0',
      range_start: '10.20.0.10',
      range_end: '10.20.0.250',
      reserved: ['10.20.0.5'],
      created_at: '2026-01-05T09:00:00.000Z',
      updated_at: '2026-01-05T09:00:00.000Z',
    },
  });

export const networkDetail = network
  .extend({
    leases: z.strictObject({ live: z.int(), addresses: z.string().meta({ description: 'leasable addresses (a decimal string: IPv6 ranges exceed 2^53)' }) }),
  })
  .meta({ id: 'NetworkDetail' });

export const lease = z
  .strictObject({
    id: uuid,
    network_id: uuid,
    address: text,
    state: z.enum(['reserved', 'active', 'released']),
    machine_id: uuid.nullable(),
    machine_name: text.nullable(),
    mac: text.nullable(),
    created_at: timestamp.nullable(),
    updated_at: timestamp.nullable(),
    released_at: timestamp.nullable(),
  })
  .meta({ id: 'Lease' });

export const account = z
  .strictObject({
    id: uuid,
    key: text,
    provider: z.enum(['aws', 'gcp']),
    name: text,
    platform: text.nullable(),
    tier: z.enum(['dev', 'stg', 'sbx', 'prd']).nullable(),
    environment: text.nullable(),
    regions: z.array(text),
    credentials_ref: text.nullable(),
    conditions: z.array(condition),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Account' });

export const pool = z
  .strictObject({
    id: uuid,
    name: text.nullable(),
    cidr: text,
    version: z.union([z.literal(4), z.literal(6)]),
    parent_id: uuid.nullable(),
    account_id: uuid.nullable(),
    scope_id: uuid,
    scope: text.meta({ description: 'the address scope (VRF) name' }),
    description: text.nullable(),
    tags: z.record(z.string(), z.string()),
    created_at: timestamp.nullable(),
    updated_at: timestamp.nullable(),
  })
  .meta({ id: 'Pool' });

export const allocation = z
  .strictObject({
    id: uuid,
    pool_id: uuid.nullable(),
    cidr: text,
    name: text.nullable(),
    account_id: uuid.nullable(),
    scope_id: uuid,
    created_at: timestamp.nullable(),
  })
  .meta({ id: 'Allocation' });

const decimal = z.string().regex(/^\d+$/).meta({ description: 'a count as a decimal string (IPv6 counts exceed 2^53)' });

export const blockPage = z
  .strictObject({
    items: z.array(
      z.strictObject({
        cidr: text,
        status: z.enum(['free', 'used']),
        owners: z.array(z.strictObject({ kind: text, id: uuid, name: text.nullable(), account_id: uuid.nullable() })),
      }),
    ),
    next_cursor: z.string().nullable(),
    counts: z.strictObject({ total: decimal, used: decimal, free: decimal }),
  })
  .meta({ id: 'BlockPage' });

export const utilization = z
  .strictObject({
    cidr: text,
    total: decimal,
    used: decimal,
    free: decimal,
    percent_used: z.number(),
    by_account: z.array(z.strictObject({ account_id: uuid.nullable(), account_key: text.nullable(), addresses: decimal, allocations: z.int() })),
  })
  .meta({ id: 'Utilization' });

export const allocatedBlock = z
  .strictObject({
    id: uuid,
    cidr: text,
    name: text.nullable(),
    pool_id: uuid,
    pool_name: text.nullable(),
    account_id: uuid.nullable(),
    account_key: text.nullable(),
    created_at: timestamp.nullable(),
    scope_id: uuid,
    scope_name: text,
  })
  .meta({ id: 'AllocatedBlock' });
