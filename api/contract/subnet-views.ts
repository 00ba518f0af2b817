// Response schemas of /api/v1/subnets.
import { z } from 'zod';
import { SUBNET_STATES } from '../../domain/subnets.ts';
import { operationSummary, timestamp, uuid } from './schemas.ts';

export const cloudSubnet = z
  .strictObject({
    id: uuid,
    name: z.string().nullable(),
    account_id: uuid,
    account_key: z.string(),
    provider: z.enum(['aws', 'gcp']),
    region: z.string(),
    zone: z.string().nullable(),
    network_id: z.string(),
    pool_id: uuid.nullable(),
    allocation_id: uuid.nullable().meta({ description: 'the pool block held for the subnet; null once it is freed' }),
    cidr: z.string(),
    total_addresses: z.string().meta({ description: 'addresses in the CIDR (a decimal string: IPv6 sizes exceed JSON numbers)' }),
    usable_addresses: z
      .string()
      .meta({ description: 'addresses instances can use: the cloud keeps AWS the first four and the last, GCP the first two and the last two' }),
    provider_id: z.string().nullable().meta({ description: 'AWS subnet-…; GCP the subnetwork name' }),
    secondary_ranges: z.array(z.strictObject({ name: z.string(), cidr: z.string() })),
    tags: z.record(z.string(), z.string()),
    state: z.enum(SUBNET_STATES),
    state_reason: z.string().nullable(),
    managed: z.boolean().meta({ description: 'created by Hangar (true) or found in the cloud (false)' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'CloudSubnet' });

export const subnetOperation = z.strictObject({ subnet: cloudSubnet, operation: operationSummary }).meta({ id: 'SubnetOperation' });
