// What commands print: the API's answer as JSON or YAML (`--json`, `-o json|yaml`), field/value and
// row tables otherwise (`-o wide` adds every other field as a column). The format is chosen once,
// for the whole run, by the root command's preAction hook (cli/command-tree.ts).
import { stringify as toYaml } from 'yaml';
import { outputFormat } from './output-format.ts';
import { table } from './render.ts';

type Json = Record<string, unknown>;

export { machineReadable, OUTPUT_FORMATS, outputFormat, setOutputFormat, type OutputFormat } from './output-format.ts';

/** The API's answer, unchanged: indented JSON, or YAML with -o yaml. */
export const print = (v: unknown) => {
  if (outputFormat() === 'yaml') process.stdout.write(toYaml(v ?? null, { lineWidth: 0 }));
  else console.log(JSON.stringify(v, null, 2));
};

/** Field/value rows; render.table shows objects as compact JSON and null as "-". */
export const fieldsTable = (obj: object) =>
  table(
    Object.entries(obj).map(([field, value]) => ({ field, value })),
    ['field', 'value'],
  );

/** A readable cell: arrays joined, objects as k=v, null as "-". */
function readableCell(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x))).join(', ') : null;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Json);
    return entries.length ? entries.map(([k, x]) => `${k}=${typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)}`).join(', ') : null;
  }
  return v;
}

const readableCells = (row: object): Json => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, readableCell(v)]));
/** A row table whose lists and objects read as text (a, b / k=v) rather than JSON. */
export const readableRowsTable = (rows: object[], columns: string[]) => table(rows.map(readableCells), columns);
/** A field/value table whose lists and objects read as text (a, b / k=v) rather than JSON. */
export const readableFieldsTable = (obj: object) =>
  table(
    Object.entries(obj).map(([field, value]) => ({ field, value: readableCell(value) })),
    ['field', 'value'],
  );
