import { describe, expect, it } from '@jest/globals';
import { createSubnetSchema, usableAddresses } from '../../domain/subnets.ts';

describe('usable addresses per cloud', () => {
  it('AWS keeps five addresses of every subnet, GCP four', () => {
    expect(usableAddresses('aws', '10.0.0.0/24')).toBe(251n);
    expect(usableAddresses('gcp', '10.0.0.0/24')).toBe(252n);
    expect(usableAddresses('aws', '10.0.0.0/28')).toBe(11n);
    expect(usableAddresses('gcp', '10.0.0.0/29')).toBe(4n);
  });

  it('never goes below zero', () => {
    expect(usableAddresses('aws', '10.0.0.0/30')).toBe(0n);
  });
});

describe('a subnet request', () => {
  const parse = (body: unknown) => createSubnetSchema.safeParse(body);

  it('takes a pool and either a prefix length or a CIDR', () => {
    expect(parse({ pool: 'p', prefix_length: 24 }).success).toBe(true);
    expect(parse({ pool: 'p', cidr: '10.0.1.0/24' }).success).toBe(true);
    expect(parse({ pool: 'p' }).success).toBe(false);
    expect(parse({ pool: 'p', prefix_length: 24, cidr: '10.0.1.0/24' }).success).toBe(false);
  });

  it('refuses a non-canonical CIDR, a bad secondary range and Hangar-owned tags', () => {
    expect(parse({ pool: 'p', cidr: '10.0.1.7/24' }).error?.issues[0]?.path).toEqual(['cidr']);
    expect(parse({ pool: 'p', prefix_length: 24, secondary_ranges: [{ name: 'pods', cidr: 'nope' }] }).error?.issues[0]?.path).toEqual([
      'secondary_ranges',
      0,
      'cidr',
    ]);
    expect(parse({ pool: 'p', prefix_length: 24, tags: { 'hangar-subnet-id': 'x' } }).error?.issues[0]?.path).toEqual(['tags']);
    expect(parse({ pool: 'p', prefix_length: 24, tags: { team: 'net' } }).success).toBe(true);
  });
});
