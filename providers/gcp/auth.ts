// The service-account signed-JWT flow of google-auth-library, pointed at the key file's
// `token_uri`: the library's token request always goes to Google's default token URL, so a request
// interceptor on the client's own transport redirects it (the key's audience claim already names
// token_uri). Everything else (signing, caching, refreshing) is the library's.
import { JWT } from 'google-auth-library';
import { HangarError } from '../../domain/errors.ts';

/** The fields of a service-account key file Hangar uses (the file has more). */
export interface GcpServiceAccountKey {
  type?: string;
  project_id?: string;
  private_key_id?: string;
  private_key: string;
  client_email: string;
  token_uri?: string;
}

const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
export const COMPUTE_SCOPE = 'https://www.googleapis.com/auth/compute';

/** The key's fields checked; errors never echo the key's content. */
export function parseServiceAccountKey(raw: unknown, origin: string): GcpServiceAccountKey {
  const k = raw as Partial<GcpServiceAccountKey> | null;
  if (!k || typeof k !== 'object') throw new HangarError('cloud_credentials_invalid', `${origin}: not a service-account key (a JSON object)`);
  if (k.type !== undefined && k.type !== 'service_account') throw new HangarError('cloud_credentials_invalid', `${origin}: type must be "service_account"`);
  if (typeof k.client_email !== 'string' || !k.client_email) throw new HangarError('cloud_credentials_invalid', `${origin}: client_email is missing`);
  if (typeof k.private_key !== 'string' || !k.private_key.includes('PRIVATE KEY'))
    throw new HangarError('cloud_credentials_invalid', `${origin}: private_key is missing or not PEM`);
  if (k.token_uri !== undefined && !/^https?:\/\//.test(k.token_uri))
    throw new HangarError('cloud_credentials_invalid', `${origin}: token_uri must be an http(s) URL`);
  return k as GcpServiceAccountKey;
}

/** A google-auth-library JWT client for the key, fetching its access tokens from the key's token_uri. */
export function jwtClientFor(key: GcpServiceAccountKey): JWT {
  const tokenUri = key.token_uri ?? GOOGLE_TOKEN_URL;
  const client = new JWT({ email: key.client_email, key: key.private_key, keyId: key.private_key_id, scopes: [COMPUTE_SCOPE] });
  if (tokenUri !== GOOGLE_TOKEN_URL) {
    client.transporter.interceptors.request.add({
      resolved: async (options) => {
        if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUri);
        return options;
      },
    });
  }
  return client;
}
