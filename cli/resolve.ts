// Ids from what a user types: an id, or a unique name (resolved through the list endpoints).
import { CliError, type ApiClient } from './api-client.ts';
import { usage } from './flags.ts';
import { listAll, queryString, type Page, type QueryParams } from './lists.ts';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Resolvable {
  id: string;
  name?: string | null;
}

/** The one item of a list endpoint that `match`es (by default: named `ref`); not found → 1, ambiguous → 2. */
export async function byName<T extends Resolvable>(
  api: ApiClient,
  label: string,
  path: string,
  ref: string,
  params: QueryParams = {},
  match: (item: T) => boolean = (i) => i.name === ref,
): Promise<T> {
  const hits = (await listAll<T>(api, path, params)).filter(match);
  if (!hits.length) throw new CliError(`error: not_found: no ${label} named "${ref}"`, 1);
  if (hits.length > 1) usage(`"${ref}" names ${hits.length} ${label}s; use the id (${hits.map((h) => h.id).join(', ')})`);
  return hits[0]!;
}

const idOf = async (ref: string, find: () => Promise<Resolvable>) => (UUID.test(ref) ? ref : (await find()).id);

export const sshKeyId = (api: ApiClient, ref: string) => idOf(ref, () => byName(api, 'SSH key', '/api/v1/ssh-keys', ref));
export const networkId = (api: ApiClient, ref: string) => idOf(ref, () => byName(api, 'network', '/api/v1/networks', ref));
export const poolId = (api: ApiClient, ref: string) => idOf(ref, () => byName(api, 'pool', '/api/v1/pools', ref));

/** A machine id from an id or an exact name (the name_prefix filter narrows the search). */
export const machineId = (api: ApiClient, ref: string) =>
  idOf(ref, async () => {
    const { body } = await api.get<Page<Resolvable>>(`/api/v1/machines${queryString({ name_prefix: ref })}`);
    const hit =
      body.items.find((m) => m.name === ref) ??
      (body.next_cursor ? (await listAll<Resolvable>(api, '/api/v1/machines', { name_prefix: ref })).find((m) => m.name === ref) : undefined);
    if (!hit) throw new CliError(`error: not_found: no machine named "${ref}"`, 1);
    return hit;
  });

interface AccountRef {
  id: string;
  key: string;
  name: string;
}

/** Accounts are referred to by id, key (aws:123456789012, gcp:project) or a unique name. */
export const accountId = (api: ApiClient, ref: string) =>
  idOf(ref, async () => {
    const provider = /^(aws|gcp):/.exec(ref)?.[1];
    const all = await listAll<AccountRef>(api, '/api/v1/accounts', { provider });
    const byKey = all.find((a) => a.key === ref);
    if (byKey) return byKey;
    const named = all.filter((a) => a.name === ref);
    if (!named.length) throw new CliError(`error: not_found: no account with key or name "${ref}"`, 1);
    if (named.length > 1) usage(`"${ref}" names ${named.length} accounts; use the key or the id`);
    return named[0]!;
  });
