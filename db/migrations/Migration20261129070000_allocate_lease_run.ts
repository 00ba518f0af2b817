import { Migration } from '@mikro-orm/migrations';

/**
 * allocate_lease_run(): many lowest-free leases of one network in one statement, for bulk
 * requests. Same contract as allocate_leases() (lock the network row, start at the allocation
 * hint, skip excluded addresses, one lease per request, raise the hint), but set-based: it widens
 * a window above the hint until it holds enough free addresses (counting only the live leases
 * inside the window, never the whole network), then inserts them all with one INSERT … SELECT.
 * Fewer rows than requests: the range ran out, or a by-value lease (which takes no network lock)
 * took a chosen address meanwhile; the caller tops up with allocate_leases().
 */
export const ALLOCATE_LEASE_RUN_FN = `
create function allocate_lease_run(p_network uuid, p_lo inet, p_hi inet, p_excluded jsonb, p_requests jsonb)
returns setof ip_lease language plpgsql as $$
declare
  v_hint inet;
  v_start inet;
  v_excluded inet[];
  v_need bigint;
  v_width bigint;
  v_free bigint;
  v_room bigint;
  v_last inet;
begin
  select alloc_hint into v_hint from network where id = p_network for update;
  if not found then
    raise exception 'network % not found', p_network using errcode = 'no_data_found';
  end if;
  select coalesce(array_agg(value::inet), '{}') into v_excluded from jsonb_array_elements_text(p_excluded);
  v_need := jsonb_array_length(p_requests);
  if v_need = 0 then return; end if;
  v_start := case when v_hint is not null and v_hint > p_lo then v_hint else p_lo end;
  if v_start > p_hi then return; end if;
  begin
    v_room := (p_hi - v_start) + 1;
  exception when others then
    v_room := 9223372036854775807; -- an IPv6 range wider than bigint: room enough
  end;
  -- Widen [v_start, v_start + v_width) by the shortfall until it holds v_need free addresses.
  v_width := v_need;
  loop
    v_width := least(v_width, v_room);
    select v_width
           - (select count(*) from ip_lease where network_id = p_network and state <> 'released'
                and address >= v_start and address < v_start + v_width)
           - (select count(*) from unnest(v_excluded) e(a) where e.a >= v_start and e.a < v_start + v_width
                and not exists (select 1 from ip_lease l where l.network_id = p_network and l.state <> 'released' and l.address = e.a))
      into v_free;
    exit when v_free >= v_need or v_width >= v_room;
    v_width := v_width + (v_need - v_free);
  end loop;
  return query
    with cand as (
      select v_start + g as a from generate_series(0::bigint, v_width - 1) g
      where v_start + g <> all(v_excluded)
        and not exists (select 1 from ip_lease l where l.network_id = p_network and l.state <> 'released' and l.address = v_start + g)
      order by g limit v_need
    ), numbered as (
      select a, row_number() over (order by a) as n from cand
    ), reqs as (
      select value as r, ordinality as n from jsonb_array_elements(p_requests) with ordinality
    )
    insert into ip_lease (id, network_id, address, machine_id, mac, state, created_at, updated_at)
    select (q.r->>'id')::uuid, p_network, c.a, (q.r->>'machine_id')::uuid, (q.r->>'mac')::macaddr,
           coalesce(q.r->>'state', 'reserved'), now(), now()
    from numbered c join reqs q on q.n = c.n
    on conflict (network_id, address) where state <> 'released' do nothing
    returning *;
  select max(address) into v_last from ip_lease where network_id = p_network and state <> 'released'
    and address >= v_start and address < v_start + v_width;
  if v_last is not null then
    update network set alloc_hint = case when v_last < p_hi then v_last + 1 else v_last end
      where id = p_network and (alloc_hint is null or alloc_hint < v_last);
  end if;
end;
$$`;

export class Migration20261129070000_allocate_lease_run extends Migration {
  override up(): void {
    this.addSql(ALLOCATE_LEASE_RUN_FN);
  }

  override down(): void {
    this.addSql(`drop function if exists allocate_lease_run(uuid, inet, inet, jsonb, jsonb)`);
  }
}
