/** Steps several presets start with, written once. */

import type { PresetStep } from './types';

/** The whole host, read-only (`ro-host`, `agent`). */
export const HOST_READ_ONLY: PresetStep = { op: { kind: 'bind', source: '/', target: '/' }, why: 'the host, read-only' };

/** A private /proc, a minimal /dev and a private /tmp (every preset). */
export const PRIVATE_KERNEL_AND_TMP: readonly PresetStep[] = [
  { op: { kind: 'proc', target: '/proc' }, why: 'processes of this sandbox only' },
  { op: { kind: 'dev', target: '/dev' }, why: 'null, zero, full, random, urandom, tty, a private pts and shm' },
  { op: { kind: 'tmpfs', target: '/tmp' }, why: 'private /tmp, empty, gone after the run' },
];
