/**
 * `sandboxctl exec [-it] [-e K=V]... [--cwd D] NAME -- CMD ARGS...`: runs a
 * program in a running live sandbox and exits with its status.
 */

import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { Sandbox } from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';
import { clipanionOption, usage } from '../flags';
import { exitStatus, forwardSignals } from './run';

export class ExecCommand extends Command<SandboxctlContext> {
  static override paths = [['exec']];
  static override usage = Command.Usage({
    description: 'run a program in a running sandbox',
    details: `
      Starts the command in the live sandbox NAME (\`sandboxctl run --name NAME\`): the sandbox's own pid 1 forks it, so it has exactly the sandbox's namespaces, seccomp filter, Landlock domain, capabilities (none) and no_new_privs, and the sandbox's environment and working directory unless \`-e\` or \`--cwd\` change them. Its stdin, stdout and stderr are this command's; \`-it\` gives it a pseudo-terminal of the sandbox's own, relayed to yours. SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on. The exit status is the program's (128+N when killed by signal N); 125 with \`sandboxctl: E_CODE: message\` for a failure of sandboxctl (E_SANDBOX_NOT_FOUND, E_SANDBOX_CLOSED, E_CONTROL_DENIED...).
    `,
    examples: [
      ['Run the tests in the sandbox web', '$0 exec web -- npm test'],
      ['A shell with a terminal', '$0 exec -it web -- bash'],
      ['With a variable and a directory', '$0 exec -e CI=1 --cwd /tmp web -- env'],
    ],
  });

  interactive = Option.Boolean('-i,--interactive', false, { description: 'Keep stdin attached (always: accepted for docker compatibility)' });
  tty = Option.Boolean('-t,--tty', false, { description: "Give the program a pseudo-terminal of the sandbox's own, relayed to yours" });
  env = Option.Array('-e,--env', { description: 'Set KEY=VALUE for the program', validator: t.isArray(t.cascade(t.isString(), [t.matchesRegExp(/^[A-Za-z_][A-Za-z0-9_]*=/)])) });
  cwd = clipanionOption('--cwd') as string | undefined;
  name = Option.String({ required: true });
  argv = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    const argv = this.argv[0] === '--' ? this.argv.slice(1) : this.argv;
    if (argv.length === 0) throw usage('exec needs a program to run', 'sandboxctl exec NAME -- CMD ARGS...');
    const env = Object.fromEntries((this.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const child = new Sandbox(this.name, 0).spawn(argv, { stdio: 'inherit', tty: this.tty, env, cwd: this.cwd });
    const stop = forwardSignals(child);
    try {
      return exitStatus(await child.exited);
    } finally {
      stop();
    }
  }
}
