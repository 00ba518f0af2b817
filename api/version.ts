// The version of this Hangar build, from package.json (read once at start).
import { readFileSync } from 'node:fs';

export const HANGAR_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
