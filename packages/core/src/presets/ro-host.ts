/** `ro-host`: the host read-only, the current directory writable. */

import { HOST_READ_ONLY, PRIVATE_KERNEL_AND_TMP } from './steps';
import type { PresetDefinition } from './types';

export const roHost: PresetDefinition = {
  name: 'ro-host',
  summary: 'the host read-only, the current directory writable, private /tmp, no network',
  description: [
    "The whole host filesystem, read-only (every mount below / too), with a private /proc, a minimal /dev and a private /tmp; the current directory is writable and the program starts in it. No network but loopback. The environment is the caller's.",
    'It hides nothing that your user can read: use `agent` to keep secrets out.',
  ],
  steps: [
    HOST_READ_ONLY,
    ...PRIVATE_KERNEL_AND_TMP,
    { op: { kind: 'bind', source: '{cwd}', target: '{cwd}', writable: true }, why: 'the current directory, writable' },
  ],
  policy: {
    network: 'none',
    seccomp: 'strict',
    cwdHere: true,
    env: { clear: false, removeCredentials: false },
  },
  refuseCwd: ['root'],
  params: [],
};
