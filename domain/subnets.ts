// Cloud subnets: an allocation in a pool that also exists as a subnet in a cloud (decision 0027).
// States, the create request, and the addresses each cloud keeps for itself in every subnet.
import { z } from 'zod';
import type { CloudProvider } from './accounts.ts';
import { cidrSize, parseCidr } from './cidr.ts';
import { safeText, VARCHAR } from './text.ts';

export const SUBNET_STATES = ['creating', 'available', 'deleting', 'deleted', 'failed'] as const;
export type SubnetState = (typeof SUBNET_STATES)[number];

export interface SecondaryRange {
  name: string;
  cidr: string;
}

/**
 * Addresses the cloud reserves in every subnet, which no instance can use: AWS the first four
 * (network, router, DNS, future) and the last (broadcast); GCP the first two (network, gateway)
 * and the last two.
 */
export const RESERVED_ADDRESSES: Record<CloudProvider, number> = { aws: 5, gcp: 4 };

/** The addresses instances can have in a subnet of this CIDR on this cloud. */
export function usableAddresses(provider: CloudProvider, cidr: string): bigint {
  const size = cidrSize(parseCidr(cidr));
  const reserved = BigInt(RESERVED_ADDRESSES[provider]);
  return size > reserved ? size - reserved : 0n;
}

/** The smallest IPv4 subnet each cloud accepts (AWS /28, GCP /29) and the largest (AWS /16, GCP /8). */
export const SUBNET_PREFIX_LIMITS: Record<CloudProvider, { min: number; max: number }> = { aws: { min: 16, max: 28 }, gcp: { min: 8, max: 29 } };

const GCP_RANGE_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const TAG_KEY = /^[a-z][a-z0-9_-]{0,62}$/;

export const createSubnetSchema = z
  .strictObject({
    pool: safeText(VARCHAR, 1).meta({ description: "The pool (id or name) to allocate from; its address scope's binding names the account and network" }),
    prefix_length: z.int().min(8).max(29).optional().meta({ description: 'Best fit: the smallest free block of this size' }),
    cidr: z.string().max(64).optional().meta({ description: 'A requested block inside the pool (instead of prefix_length)' }),
    region: safeText(64).optional().meta({ description: "The region; default the scope's (AWS VPCs have one; GCP networks are global, so GCP needs it)" }),
    zone: safeText(64).optional().meta({ description: 'AWS: the availability zone (default: AWS picks)' }),
    name: z
      .string()
      .regex(GCP_RANGE_NAME, 'must be 1-63 lowercase letters, digits or hyphens, starting with a letter')
      .optional()
      .meta({ description: 'GCP: the subnetwork name (default hangar-<id>); AWS: the Name tag' }),
    secondary_ranges: z
      .array(z.strictObject({ name: z.string().regex(GCP_RANGE_NAME, 'must be 1-63 lowercase letters, digits or hyphens'), cidr: z.string().max(64) }))
      .max(30)
      .optional()
      .meta({ description: 'GCP: secondary IP ranges (alias IPs)' }),
    tags: z
      .record(z.string().regex(TAG_KEY, 'lowercase letters, digits, _ or -, starting with a letter'), safeText(63))
      .refine((t) => Object.keys(t).length <= 40, 'at most 40 tags')
      .optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.prefix_length === undefined) === (v.cidr === undefined))
      ctx.addIssue({ code: 'custom', path: ['prefix_length'], message: 'give exactly one of prefix_length and cidr' });
    if (v.cidr !== undefined) {
      try {
        parseCidr(v.cidr, { strict: true });
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['cidr'], message: (err as Error).message });
      }
    }
    (v.secondary_ranges ?? []).forEach((r, i) => {
      try {
        parseCidr(r.cidr, { strict: true });
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['secondary_ranges', i, 'cidr'], message: (err as Error).message });
      }
    });
    if (v.tags && Object.keys(v.tags).some((k) => k.startsWith('hangar-')))
      ctx.addIssue({ code: 'custom', path: ['tags'], message: 'tags starting with hangar- are Hangar’s own' });
  });
export type CreateSubnetRequest = z.infer<typeof createSubnetSchema>;

/** What allocateSubnet needs: ids only (the worker loads the account and its credentials itself). */
export interface AllocateSubnetInput {
  subnetId: string;
  /** For the failure message. */
  cidr: string;
}

export interface ReleaseSubnetInput {
  subnetId: string;
  cidr: string;
}
