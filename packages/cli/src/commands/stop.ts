/** `sandboxctl stop [--timeout S] NAME...`: end live sandboxes. */

import * as t from 'typanion';
import { Command, Option } from 'clipanion';
import { Sandbox } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';
import { clipanionOption } from '../flags';

export class StopCommand extends Command<SandboxctlContext> {
  static override paths = [['stop']];
  static override usage = Command.Usage({
    description: 'stop live sandboxes',
    details: `
      Sends SIGTERM to every process in each named sandbox, then SIGKILL after \`--timeout\` seconds (default 10), and returns once the sandbox is gone. The request goes through the sandbox's control socket: nothing is ever signalled by a pid read from the registry.
    `,
    examples: [
      ['Stop one', '$0 stop web'],
      ['Give it one second', '$0 stop --timeout 1 web'],
    ],
  });

  timeout = clipanionOption('--timeout', { description: 'Seconds between SIGTERM and SIGKILL (default 10)', validator: t.cascade(t.isNumber(), [t.isAtLeast(0)]) }) as number | undefined;
  names = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    for (const name of this.names) await new Sandbox(name, 0).stop({ timeoutMs: Math.round((this.timeout ?? 10) * 1000) });
    return 0;
  }
}
