// Hangar's settings table: every setting's key, environment variable, value schema and default,
// and whether it is a secret. domain/config.ts parses the layers against it, domain/config-docs.ts
// renders docs/configuration.md from it.
import { z } from 'zod';
import { bool, port, positiveInt } from './setting-schemas.ts';
import { DRIFT_SETTINGS } from './settings-drift.ts';

export interface SettingDef {
  key: string;
  env: string;
  schema: z.ZodType;
  default?: unknown;
  /** Secrets may only come from the environment (or .env) or a 0600 file named by `<ENV>_FILE`. */
  secret?: boolean;
  description: string;
}

export const SETTINGS: SettingDef[] = [
  {
    key: 'env',
    env: 'HANGAR_ENV',
    schema: z.enum(['development', 'test', 'production']),
    default: 'development',
    description: 'Deployment flavour: development, test or production.',
  },
  { key: 'dataDir', env: 'HANGAR_DATA_DIR', schema: z.string().min(1), default: '.data', description: 'Folder for embedded services, logs and VM files.' },
  {
    key: 'logLevel',
    env: 'HANGAR_LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'pino log level.',
  },
  { key: 'api.host', env: 'HANGAR_API_HOST', schema: z.string().min(1), default: '127.0.0.1', description: 'Address the API server binds to.' },
  { key: 'api.port', env: 'HANGAR_API_PORT', schema: port, default: 8080, description: 'Port the API server listens on.' },
  { key: 'api.url', env: 'HANGAR_API_URL', schema: z.url(), default: 'http://127.0.0.1:8080', description: 'Where the CLI reaches the API.' },
  {
    key: 'api.publicUrl',
    env: 'HANGAR_PUBLIC_URL',
    schema: z.url(),
    default: 'http://127.0.0.1:8080',
    description: 'Base URL machines use to reach the metadata service (seed URLs, phone_home).',
  },
  { key: 'api.token', env: 'HANGAR_TOKEN', schema: z.string().min(1).optional(), secret: true, description: 'Bearer token the CLI sends.' },
  {
    key: 'api.bodyLimit',
    env: 'HANGAR_API_BODY_LIMIT',
    schema: z.string().regex(/^\d+(b|kb|mb)$/),
    default: '1mb',
    description: 'Largest accepted request body.',
  },
  {
    key: 'api.processes',
    env: 'HANGAR_API_PROCESSES',
    schema: z.coerce.number().int().min(0).max(256),
    default: 1,
    description: 'API server processes sharing the port (node:cluster); 0 means one per CPU core.',
  },
  {
    key: 'api.maxPageSize',
    env: 'HANGAR_API_MAX_PAGE_SIZE',
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 1000,
    description: 'Cap for page_size on list endpoints.',
  },
  {
    key: 'database.url',
    env: 'DATABASE_URL',
    schema: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
    default: 'postgres://hangar@127.0.0.1:54329/hangar',
    secret: true,
    description: 'PostgreSQL connection URL (the embedded cluster by default).',
  },
  {
    key: 'database.poolSize',
    env: 'HANGAR_DB_POOL_SIZE',
    schema: z.coerce.number().int().min(1).max(500),
    default: 10,
    description: 'Connections per process.',
  },
  {
    key: 'temporal.address',
    env: 'TEMPORAL_ADDRESS',
    schema: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port'),
    default: '127.0.0.1:7233',
    description: 'Temporal frontend (the embedded dev server by default).',
  },
  { key: 'temporal.namespace', env: 'TEMPORAL_NAMESPACE', schema: z.string().min(1), default: 'default', description: 'Temporal namespace.' },
  {
    key: 'temporal.taskQueue',
    env: 'HANGAR_TASK_QUEUE',
    schema: z.string().min(1),
    default: 'hangar',
    description: 'Task queue for workflows and generic activities.',
  },
  { key: 'temporal.uiUrl', env: 'TEMPORAL_UI_URL', schema: z.url(), default: 'http://127.0.0.1:8233', description: 'Temporal web UI, linked from operations.' },
  {
    key: 'worker.maxConcurrentActivities',
    env: 'HANGAR_WORKER_MAX_ACTIVITIES',
    schema: z.coerce.number().int().min(1).max(10_000),
    default: 200,
    description: 'Activity slots per worker.',
  },
  {
    key: 'worker.maxConcurrentWorkflowTasks',
    env: 'HANGAR_WORKER_MAX_WORKFLOW_TASKS',
    schema: z.coerce.number().int().min(2).max(10_000),
    default: 100,
    description: 'Workflow task slots per worker.',
  },
  {
    key: 'worker.shutdownGraceMs',
    env: 'HANGAR_WORKER_SHUTDOWN_GRACE_MS',
    schema: positiveInt,
    default: 10_000,
    description: 'How long SIGTERM waits for running activities.',
  },
  ...DRIFT_SETTINGS,
  {
    key: 'dryrun.stepDelayMs',
    env: 'HANGAR_DRYRUN_STEP_DELAY_MS',
    schema: positiveInt,
    default: 0,
    description: 'Artificial latency per dry-run provider call (demos, durability tests).',
  },
  {
    key: 'dryrun.failStep',
    env: 'HANGAR_DRYRUN_FAIL_STEP',
    schema: z.enum(['create', 'configure', 'start']).optional(),
    description: 'Make this dry-run step fail permanently (fault injection).',
  },
  {
    key: 'provision.phoneHomeTimeout',
    env: 'HANGAR_PHONE_HOME_TIMEOUT',
    schema: z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 90s, 15m or 1h'),
    default: '15m',
    description: 'How long provisioning waits for a machine to phone home before it fails with a diagnosis.',
  },
  {
    key: 'auth.bootstrapToken',
    env: 'HANGAR_BOOTSTRAP_TOKEN',
    schema: z.string().min(32).optional(),
    secret: true,
    description: 'Admin token ensured at start-up (make up sets one for development).',
  },
  {
    key: 'metadata.sourceAddressMode',
    env: 'HANGAR_METADATA_SOURCE_MODE',
    schema: bool,
    default: false,
    description: 'Also serve /cloud-init/<doc> to machines identified by their source address (only on networks where addresses cannot be spoofed).',
  },
  {
    key: 'metadata.trustedProxies',
    env: 'HANGAR_METADATA_TRUSTED_PROXIES',
    schema: z.string().regex(/^[0-9a-fA-F.:/,\s]*$/, 'must be a comma-separated list of CIDRs'),
    default: '',
    description: 'Comma-separated CIDRs of proxies whose X-Forwarded-For is believed in source-address mode.',
  },
  {
    key: 'metadata.cacheMs',
    env: 'HANGAR_METADATA_CACHE_MS',
    schema: positiveInt,
    default: 1000,
    description: "How long a machine's seed data is cached in the API process (0: no cache); changes show up within this time.",
  },
  {
    key: 'provision.shutdownTimeoutSec',
    env: 'HANGAR_SHUTDOWN_TIMEOUT_SEC',
    schema: z.coerce.number().int().min(0).max(3600),
    default: 60,
    description: 'Graceful (ACPI) shutdown time before a hard stop, for stop, restart and deprovision.',
  },
  {
    key: 'providers.enabled',
    env: 'HANGAR_PROVIDERS',
    schema: z.string().regex(/^\s*(dryrun|qemu|proxmox)(\s*,\s*(dryrun|qemu|proxmox))*\s*$/, 'must be a comma-separated list of dryrun, qemu, proxmox'),
    default: 'dryrun,qemu',
    description: 'VM providers this installation offers (the API refuses others; workers build clients for these).',
  },
  {
    key: 'qemu.accel',
    env: 'HANGAR_QEMU_ACCEL',
    schema: z.enum(['auto', 'kvm', 'tcg']),
    default: 'auto',
    description: 'QEMU accelerator: KVM when /dev/kvm is usable (auto), or force one.',
  },
  {
    key: 'qemu.bridge',
    env: 'HANGAR_QEMU_BRIDGE',
    schema: z
      .string()
      .regex(/^([A-Za-z][A-Za-z0-9_.-]{0,14})?$/, 'must be a bridge name')
      .default(''),
    default: '',
    description: 'Attach QEMU VMs to this Linux bridge; empty: user-mode networking with a forwarded SSH port.',
  },
  {
    key: 'qemu.guestMetadataUrl',
    env: 'HANGAR_QEMU_GUEST_METADATA_URL',
    schema: z.union([z.literal(''), z.url()]),
    default: '',
    description: 'Base URL QEMU guests reach the API at; empty: api.publicUrl, with a loopback host replaced by 10.0.2.2 under user-mode networking.',
  },
  {
    key: 'proxmox.url',
    env: 'HANGAR_PROXMOX_URL',
    schema: z.union([z.literal(''), z.url()]),
    default: '',
    description: 'Proxmox VE API base, e.g. https://pve.example:8006.',
  },
  {
    key: 'proxmox.tokenId',
    env: 'HANGAR_PROXMOX_TOKEN_ID',
    schema: z.union([z.literal(''), z.string().regex(/^[^@\s]+@[^!\s]+![A-Za-z0-9_.-]+$/, 'must be user@realm!tokenid')]),
    default: '',
    description: 'API token id (user@realm!tokenid).',
  },
  {
    key: 'proxmox.tokenSecret',
    env: 'HANGAR_PROXMOX_TOKEN_SECRET',
    schema: z.string().min(1).optional(),
    secret: true,
    description: 'API token secret (env or HANGAR_PROXMOX_TOKEN_SECRET_FILE, mode 0600).',
  },
  {
    key: 'proxmox.node',
    env: 'HANGAR_PROXMOX_NODE',
    schema: z.string().regex(/^[A-Za-z0-9-]+$/),
    default: 'pve',
    description: 'Default node for clones and templates.',
  },
  {
    key: 'proxmox.nodes',
    env: 'HANGAR_PROXMOX_NODES',
    schema: z.string().regex(/^[A-Za-z0-9,\s-]*$/),
    default: '',
    description: 'Comma-separated nodes whose clone queues this worker serves (default: proxmox.node).',
  },
  { key: 'proxmox.storage', env: 'HANGAR_PROXMOX_STORAGE', schema: z.string().min(1), default: 'local-lvm', description: 'Storage for VM disks.' },
  {
    key: 'proxmox.isoStorage',
    env: 'HANGAR_PROXMOX_ISO_STORAGE',
    schema: z.string().min(1),
    default: 'local',
    description: 'Storage for cidata ISOs and imported images.',
  },
  { key: 'proxmox.bridge', env: 'HANGAR_PROXMOX_BRIDGE', schema: z.string().min(1), default: 'vmbr0', description: 'Default bridge for VM NICs.' },
  {
    key: 'proxmox.caFile',
    env: 'HANGAR_PROXMOX_CA_FILE',
    schema: z.string().default(''),
    default: '',
    description: 'PEM CA file to verify the Proxmox certificate with (default: the system store).',
  },
  {
    key: 'proxmox.fingerprint',
    env: 'HANGAR_PROXMOX_FINGERPRINT',
    schema: z.union([z.literal(''), z.string().regex(/^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint')]),
    default: '',
    description: 'Pinned SHA-256 certificate fingerprint (replaces chain verification).',
  },
  {
    key: 'proxmox.insecure',
    env: 'HANGAR_PROXMOX_INSECURE',
    schema: bool,
    default: false,
    description: 'Skip TLS verification (explicit opt-in; logged as a warning at start-up).',
  },
  {
    key: 'proxmox.clonesPerNode',
    env: 'HANGAR_PROXMOX_CLONES_PER_NODE',
    schema: z.coerce.number().int().min(1).max(64),
    default: 1,
    description: 'Concurrent clone activities per node and worker (Proxmox clone locks time out under parallel clones).',
  },
  {
    key: 'proxmox.taskPollMs',
    env: 'HANGAR_PROXMOX_TASK_POLL_MS',
    schema: z.coerce.number().int().min(10).max(600_000),
    default: 100,
    description:
      'First gap between polls of a running Proxmox task (and of a VM lock or shutdown); the gap grows to a tenth of the time waited, at most proxmox.taskPollMaxMs. A failed status call backs off 2 s → 30 s instead.',
  },
  {
    key: 'proxmox.taskPollMaxMs',
    env: 'HANGAR_PROXMOX_TASK_POLL_MAX_MS',
    schema: z.coerce.number().int().min(10).max(600_000),
    default: 1000,
    description: "Longest gap between polls of a running Proxmox task (Proxmox's web UI polls about once a second).",
  },
  { key: 'metrics.enabled', env: 'HANGAR_METRICS', schema: bool, default: true, description: 'Serve /metrics.' },
  {
    key: 'hosts.secretKey',
    env: 'HANGAR_HOST_SECRET_KEY',
    schema: z
      .string()
      .regex(/^\s*([0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)\s*$/, 'must be 32 bytes as base64 (44 characters) or hex (64 digits)')
      .optional(),
    secret: true,
    description: 'AES-256-GCM key sealing BMC passwords at rest (env or HANGAR_HOST_SECRET_KEY_FILE, mode 0600); unset: hosts.keyFile.',
  },
  {
    key: 'hosts.keyFile',
    env: 'HANGAR_HOST_KEY_PATH',
    schema: z.string().default(''),
    default: '',
    description: 'Key file used when HANGAR_HOST_SECRET_KEY is not set; generated (mode 0600) on first use. Empty: <dataDir>/secrets/host-key.',
  },
  {
    key: 'redfish.maxConcurrencyPerBmc',
    env: 'HANGAR_REDFISH_MAX_CONCURRENCY',
    schema: z.coerce.number().int().min(1).max(64),
    default: 2,
    description: 'Requests in flight to one BMC at once, per worker process (BMCs have few session slots).',
  },
  {
    key: 'redfish.pollIntervalMs',
    env: 'HANGAR_REDFISH_POLL_INTERVAL_MS',
    schema: z.coerce.number().int().min(10).max(60_000),
    default: 2000,
    description: 'How often power state and write read-backs are polled.',
  },
  {
    key: 'redfish.powerTimeoutSec',
    env: 'HANGAR_REDFISH_POWER_TIMEOUT_SEC',
    schema: z.coerce.number().int().min(1).max(3600),
    default: 300,
    description: 'How long a power change may take to show in the BMC before it fails.',
  },
  {
    key: 'redfish.phoneHomeTimeout',
    env: 'HANGAR_REDFISH_PHONE_HOME_TIMEOUT',
    schema: z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a duration like 90s, 15m or 1h'),
    default: '60m',
    description: 'How long a bare-metal provision waits for the installed host to phone home.',
  },
  {
    key: 'cloud.credentialsDir',
    env: 'HANGAR_CLOUD_CREDENTIALS_DIR',
    schema: z.string().default(''),
    default: '',
    description:
      "Folder of cloud account credential files (mode 0600 each; default name <provider>-<account>.json, or the account's credentials_ref file:<name>). Empty: <dataDir>/secrets/cloud.",
  },
  {
    key: 'cloud.awsEndpoint',
    env: 'HANGAR_AWS_ENDPOINT',
    schema: z.union([z.literal(''), z.url()]),
    default: '',
    description: 'EC2 and STS endpoint override (a VPC endpoint, or moto in tests). Empty: the regional AWS endpoints.',
  },
  {
    key: 'cloud.gcpEndpoint',
    env: 'HANGAR_GCP_ENDPOINT',
    schema: z.union([z.literal(''), z.url()]),
    default: '',
    description: 'Compute Engine API endpoint override, e.g. a Private Service Connect endpoint (the simulator in tests). Empty: compute.googleapis.com.',
  },
  {
    key: 'cloud.retryInitialMs',
    env: 'HANGAR_CLOUD_RETRY_INITIAL_MS',
    schema: z.coerce.number().int().min(1).max(60_000),
    default: 2000,
    description: 'First backoff after a throttled or 5xx cloud call (doubled per retry, with jitter, up to cloud.retryMaxMs).',
  },
  {
    key: 'cloud.retryMaxMs',
    env: 'HANGAR_CLOUD_RETRY_MAX_MS',
    schema: z.coerce.number().int().min(1).max(600_000),
    default: 30_000,
    description: 'Longest backoff between retries of a cloud call.',
  },
  {
    key: 'cloud.retryAttempts',
    env: 'HANGAR_CLOUD_RETRY_ATTEMPTS',
    schema: z.coerce.number().int().min(1).max(50),
    default: 8,
    description: 'Tries of one cloud call (the first included) before a throttling or 5xx error is given up on.',
  },
  {
    key: 'cloud.operationPollMs',
    env: 'HANGAR_CLOUD_OPERATION_POLL_MS',
    schema: z.coerce.number().int().min(10).max(60_000),
    default: 250,
    description: 'First delay between polls of a cloud operation (GCP operation, pending AWS subnet), doubled per poll up to 5 s.',
  },
];

const settingsByKey = new Map(SETTINGS.map((s) => [s.key, s]));

export function settingDef(key: string): SettingDef | undefined {
  return settingsByKey.get(key);
}
