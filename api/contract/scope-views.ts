// Response schemas of address scopes (VRFs), scope lookups and address analytics, matching the
// views of api/routes/scopes.ts and api/routes/analytics.ts.
import { z } from 'zod';
import { timestamp, uuid } from './schemas.ts';

const text = z.string();
const decimal = z.string().regex(/^\d+$/).meta({ description: 'a count as a decimal string (IPv6 counts exceed 2^53)' });

export const addressScope = z
  .strictObject({
    id: uuid,
    name: text,
    description: text.nullable(),
    default: z.boolean().meta({ description: 'the built-in global scope (pools go here unless placed elsewhere)' }),
    account_id: uuid.nullable().meta({ description: 'the cloud account this address space belongs to' }),
    account_key: text.nullable(),
    region: text.nullable().meta({ description: 'the region of a bound AWS VPC' }),
    network_id: text.nullable().meta({ description: 'the bound network: an AWS VPC id or a GCP network name' }),
    pools: z.int().meta({ description: 'pools (not allocations) in the scope' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({
    id: 'AddressScope',
    example: {
      id: '4f7c2a10-8d3b-4e6a-9b1c-2d3e4f5a6b7c',
      name: 'payments-prod-euc1',
      description: 'default VPC of payments prod',
      default: false,
      account_id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      account_key: 'aws:123456789012',
      region: 'eu-central-1',
      network_id: 'vpc-0a1b2c3d',
      pools: 1,
      created_at: '2026-01-05T09:00:00.000Z',
      updated_at: '2026-01-05T09:00:00.000Z',
    },
  });

export const scopeLookup = z
  .strictObject({
    scope_id: uuid,
    scope: text,
    cidr: text,
    pools: z
      .array(z.strictObject({ id: uuid, name: text.nullable(), cidr: text, parent_id: uuid.nullable() }))
      .meta({ description: 'the pools that hold the CIDR, top-level first' }),
    allocation: z
      .strictObject({ id: uuid, name: text.nullable(), cidr: text, pool_id: uuid.nullable() })
      .nullable()
      .meta({ description: 'the allocation that holds it, if any' }),
  })
  .meta({ id: 'ScopeLookup' });

export const utilizationGroup = z.strictObject({
  id: uuid.nullable().meta({ description: 'the scope, top-level pool or account (null: allocations with no account)' }),
  name: text.nullable().meta({ description: 'its name (the key for an account)' }),
  scope_id: uuid.nullable().meta({ description: 'the scope of a pool group (null for scope and account groups)' }),
  version: z.union([z.literal(4), z.literal(6)]),
  pools: z.int().meta({ description: 'top-level pools counted in total' }),
  total: decimal.nullable().meta({ description: 'addresses of the top-level pools (null when grouping by account)' }),
  allocated: decimal,
  allocations: z.int(),
  percent_used: z.number().nullable(),
});

export const utilizationReport = z
  .strictObject({
    group_by: z.enum(['scope', 'pool', 'account']),
    items: z.array(utilizationGroup),
  })
  .meta({ id: 'UtilizationReport' });
