/** `strict`: nothing of the host but what the caller lists. */

import { PRIVATE_KERNEL_AND_TMP } from './steps';
import type { PresetDefinition } from './types';

export const strict: PresetDefinition = {
  name: 'strict',
  summary: 'nothing of the host but what you list; no network; clean environment; strict seccomp',
  description: [
    'An empty root with a private /proc, a minimal /dev and a private /tmp. No host path is visible until you add one with an op flag (`--ro-bind /usr /usr` ...) or in the config file; the environment starts empty (PATH and HOME only) and the hostname is `sandbox`.',
    'No host socket is reachable (nothing of the host shows) but those you allow with `--allow-socket PATH`, bound read-only at their own path.',
    'Use it for programs you want to give exactly what they need, nothing more.',
  ],
  steps: [
    ...PRIVATE_KERNEL_AND_TMP,
    { sockets: 'allowed', why: 'host sockets: none unless allowed' },
  ],
  policy: {
    network: 'none',
    seccomp: 'strict',
    hostname: 'sandbox',
    cwdHere: false,
    env: { clear: true, set: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp' }, removeCredentials: false },
  },
  refuseCwd: [],
  params: ['allowSocket'],
};
