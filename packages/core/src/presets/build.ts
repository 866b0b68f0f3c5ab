/** `build`: a hermetic build: declared inputs read-only, one output writable. */

import { PRIVATE_KERNEL_AND_TMP } from './steps';
import type { PresetDefinition } from './types';

export const build: PresetDefinition = {
  name: 'build',
  summary: 'hermetic build: system and declared inputs read-only, one output directory writable, no network, fixed hostname, clean environment',
  description: [
    "The host's system directories (/usr, /etc and the /bin, /sbin, /lib* links or directories as the host has them) read-only, a private /proc, /dev and /tmp, the declared inputs read-only (default: the current directory) and one output directory writable (default: `out` in the current directory; it must exist). Nothing else of the host: no home directory, no /opt, no /var.",
    'No network but loopback, hostname `build`, and an environment with only PATH, HOME=/tmp, LANG=C.UTF-8 and TZ=UTC. Declare inputs with `--input PATH` (repeatable) and the output with `--output DIR`, or `inputs` and `output` in sandboxctl.json.',
  ],
  steps: [
    { system: ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc'], why: 'the system, read-only' },
    ...PRIVATE_KERNEL_AND_TMP,
    { inputs: true, why: 'a declared input, read-only' },
    { output: true, why: 'the output directory, writable' },
  ],
  policy: {
    network: 'none',
    seccomp: 'strict',
    hostname: 'build',
    cwdHere: true,
    env: {
      clear: true,
      set: { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin', HOME: '/tmp', LANG: 'C.UTF-8', TZ: 'UTC' },
      removeCredentials: false,
    },
  },
  refuseCwd: [],
  params: ['inputs', 'output'],
};
