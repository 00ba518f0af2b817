import { Migration } from '@mikro-orm/migrations';

/**
 * allocate_leases(): the lowest-free allocation as one server-side call. It locks the network row,
 * starts at the allocation hint, skips runs of taken addresses by walking the live-lease index to
 * the next gap, inserts one lease per request and raises the hint, all in one round trip. A batch
 * of requests for one network shares one lock, one walk and one commit (see db/repositories/leases.ts).
 *
 * p_requests: jsonb array of {id, machine_id, mac, state}. Returns the leases it could allocate, in
 * request order; fewer rows than requests means the range ran out.
 */
export const ALLOCATE_LEASES_FN = `
create function allocate_leases(p_network uuid, p_lo inet, p_hi inet, p_excluded jsonb, p_requests jsonb)
returns setof ip_lease language plpgsql as $$
declare
  v_hint inet;
  v_excluded inet[];
  v_cand inet;
  v_last inet;
  v_req jsonb;
  v_row ip_lease;
  v_got boolean;
begin
  select alloc_hint into v_hint from network where id = p_network for update;
  if not found then
    raise exception 'network % not found', p_network using errcode = 'no_data_found';
  end if;
  select coalesce(array_agg(value::inet), '{}') into v_excluded from jsonb_array_elements_text(p_excluded);
  v_cand := case when v_hint is not null and v_hint > p_lo then v_hint else p_lo end;
  for v_req in select value from jsonb_array_elements(p_requests) loop
    v_got := false;
    <<search>>
    loop
      exit search when v_cand is null or v_cand > p_hi;
      if v_cand = any(v_excluded) then
        v_cand := v_cand + 1;
        continue search;
      end if;
      -- on conflict: a specific-address request (which takes no network lock) may have won it.
      insert into ip_lease (id, network_id, address, machine_id, mac, state, created_at, updated_at)
      values ((v_req->>'id')::uuid, p_network, v_cand, (v_req->>'machine_id')::uuid, (v_req->>'mac')::macaddr,
              coalesce(v_req->>'state', 'reserved'), now(), now())
      on conflict (network_id, address) where state <> 'released' do nothing
      returning * into v_row;
      if found then
        v_got := true;
        v_last := v_cand;
        v_cand := v_cand + 1;
        return next v_row;
        exit search;
      end if;
      -- v_cand is taken: jump to the first gap after the run of taken addresses it starts.
      select t.a + 1 into v_cand from (
        select address as a, lead(address) over (order by address) as nxt
        from ip_lease where network_id = p_network and state <> 'released' and address >= v_cand and address <= p_hi
      ) t where t.nxt is distinct from t.a + 1 order by t.a limit 1;
    end loop;
    exit when not v_got;
  end loop;
  if v_last is not null then
    update network set alloc_hint = case when v_last < p_hi then v_last + 1 else v_last end where id = p_network;
  end if;
end;
$$`;

export class Migration20261122030000_allocate_leases extends Migration {
  override up(): void {
    this.addSql(ALLOCATE_LEASES_FN);
  }

  override down(): void {
    this.addSql(`drop function if exists allocate_leases(uuid, inet, inet, jsonb, jsonb)`);
  }
}
