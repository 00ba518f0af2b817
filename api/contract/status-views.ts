// The response of GET /api/v1/status: what `hangar status` and `hangar version` show.
import { z } from 'zod';
import { timestamp } from './schemas.ts';

const service = z.strictObject({
  name: z.string(),
  status: z.enum(['ok', 'unreachable']),
  detail: z.string().nullable(),
});

const acceleration = z
  .strictObject({
    accel: z.string().meta({ description: 'kvm or tcg' }),
    cpu_model: z.string().nullable(),
    reason: z.string().meta({ description: "why the QEMU provider chose it (its KVM probe's finding)" }),
    machine: z.string().meta({ description: 'the machine whose start recorded it' }),
    observed_at: timestamp,
  })
  .meta({ description: 'the accelerator of the most recently started QEMU VM, with the reason; null before the first start' });

export const status = z
  .strictObject({
    version: z.string(),
    node: z.string(),
    temporal: z.strictObject({
      address: z.string(),
      namespace: z.string(),
      task_queue: z.string(),
      server_version: z.string().nullable(),
    }),
    services: z.array(service),
    providers: z.array(z.strictObject({ name: z.string(), enabled: z.boolean() })),
    acceleration: acceleration.nullable(),
    queues: z.array(
      z.strictObject({
        name: z.string(),
        workflow_pollers: z.int(),
        activity_pollers: z.int(),
        detail: z.string().nullable(),
      }),
    ),
    schedules: z.array(
      z.strictObject({
        id: z.string(),
        target: z.string(),
        paused: z.boolean().nullable(),
        next_action_at: timestamp.nullable(),
        detail: z.string().nullable(),
      }),
    ),
    last_errors: z.array(
      z.strictObject({ resource_type: z.string(), resource_id: z.string(), name: z.string(), state: z.string(), error: z.string(), at: timestamp }),
    ),
    settings: z.strictObject({ shutdown_timeout_sec: z.int(), phone_home_timeout: z.string() }),
  })
  .meta({ id: 'Status' });
