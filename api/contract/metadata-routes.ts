// The contracts of the NoCloud metadata routes (/cloud-init), which machines call without an API
// token: the per-machine token in the URL is the credential, and every refusal is the same 404.
import { z } from 'zod';
import { declaration, json, media, type DeclaredRoute } from './route.ts';

const DOCS = ['meta-data', 'user-data', 'vendor-data', 'network-config'] as const;
const machineId = z.string().meta({ description: 'machine id (uuid)', format: 'uuid' });
const token = z.string().meta({ description: "the machine's metadata token (a secret)" });
const doc = z.string().meta({ description: 'a NoCloud document', enum: [...DOCS] });
const seedDocument = media('text/plain', 'the YAML document');
const defaults = { tags: ['metadata'], security: 'none' as const };

export const phoneHomeRecorded = z.strictObject({ status: z.literal('recorded') }).meta({ id: 'PhoneHomeRecorded' });

/** Declared once here; api/app.ts records them under /cloud-init. */
export const metadataRoutes: DeclaredRoute[] = [
  declaration({
    method: 'get', path: '/:machineId/:token/cidata.iso', params: z.object({ machineId, token }),
    summary: 'The whole seed as a cidata ISO, for a BMC to mount as virtual media',
    responses: { 200: media('application/x-iso9660-image', 'the ISO 9660 image (volume id cidata)') }, errors: [404, 503],
  }, defaults),
  declaration({
    method: 'get', path: '/:machineId/:token/:doc', params: z.object({ machineId, token, doc }),
    summary: 'A NoCloud seed document (meta-data, user-data, vendor-data, network-config)',
    responses: { 200: seedDocument }, errors: [404],
  }, defaults),
  declaration({
    method: 'get', path: '/:machineId/:tokenDoc', params: z.object({ machineId, tokenDoc: z.string().meta({ description: 'the token followed by the document name' }) }),
    summary: 'A seed document asked for by a seed URL without its trailing slash (<token><doc>)',
    responses: { 200: seedDocument }, errors: [404],
  }, defaults),
  declaration({
    method: 'post', path: '/:machineId/:token/phone-home', params: z.object({ machineId, token }),
    body: z.record(z.string(), z.string()).meta({ description: "cloud-init's phone_home fields (also sent form-encoded)" }), bodyRequired: false,
    summary: "cloud-init's phone_home: the machine reports that it booted",
    responses: { 200: json(phoneHomeRecorded, 'recorded') }, errors: [404, 503],
  }, defaults),
  declaration({
    method: 'get', path: '/:doc', params: z.object({ doc }),
    summary: 'A seed document chosen by the client address (source-address mode)',
    responses: { 200: seedDocument }, errors: [404],
  }, defaults),
];
