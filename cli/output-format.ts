// The output format of this run (`-o table|wide|json|yaml`, `--json`), set once before the command runs.
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

let format: OutputFormat = 'table';
export const setOutputFormat = (f: OutputFormat) => {
  format = f;
};
export const outputFormat = (): OutputFormat => format;
/** Whether the answer is printed as data (JSON/YAML) rather than as a table. */
export const machineReadable = () => format === 'json' || format === 'yaml';
