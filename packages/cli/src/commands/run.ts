/**
 * `sandboxctl run [flags] -- CMD ARGS...`: runs CMD in a sandbox and exits
 * with its status. Signals the CLI receives are forwarded to the launcher,
 * which passes them to the program; the CLI itself never dies of them.
 */

import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { Command } from 'clipanion';
import { canUseTty, type Denial, generateName, isSandboxError, parseJoinPid, resolveJoin, SandboxError, SandboxProcess, type ExitResult, type JoinSpec } from '@sandboxctl/core';
import { clipanionOption, usage } from '../flags';
import { PlanCommand } from '../plan-command';
import { formatTaint } from '../taint-report';

/** The signals the launcher forwards to the program (docs/internals.md). */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

export class RunCommand extends PlanCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    description: 'run a program in a new sandbox',
    details: `
      Builds a sandbox from the flags, which use bubblewrap's names, and runs the command in it. Filesystem ops (\`--bind\`, \`--tmpfs\`, \`--symlink\`, ...) apply in the order given, on an empty root. \`--perms\` and \`--size\` modify the op right after them. Relative paths resolve against the current directory.

      \`--preset NAME\` starts from a preset (\`sandboxctl presets\` lists them); a sandboxctl.json in the current directory or the nearest parent that has one, once you trusted it with \`sandboxctl trust\` (or \`--config FILE\`; \`--no-config\` for none), adds ops and policy. The preset's ops come first, then the config file's, then the flags'; flags override the config's policy, which overrides the preset's. \`sandboxctl explain\` shows the result in words.

      By default the sandbox has new user, pid, mount, ipc, uts and cgroup namespaces, no network but loopback, a new session and the strict seccomp filter; \`--unshare-*\`, \`--die-with-parent\` and \`--new-session\` are accepted and change nothing.

      On a terminal (stdin and stdout both terminals) with a private /dev (\`--dev /dev\`, every preset has it), the program gets a pseudo-terminal of its own, relayed to yours as \`docker run -it\` and ssh do: job control, Ctrl-C, Ctrl-Z and \`fg\`, window resizes and the exit status behave as on a local terminal, and TIOCSTI inside reaches only the sandbox's terminal. \`--no-tty\` turns it off, \`--tty\` asks for it (an error when it cannot work).

      Signals: the first SIGINT, SIGTERM or SIGHUP is passed on to the program; a second SIGINT or SIGTERM kills the sandbox, after which sandboxctl still cleans up and exits 130 or 143.

      With \`--preset agent\`, a post-run audit looks for what the run created or changed that host tools would execute (git config and hooks, .vscode, .claude, .mcp.json, sandboxctl.json...): \`--on-taint=revert\` (the default) puts back what was there and moves the rest into a quarantine under ~/.local/state/sandboxctl/quarantine, \`--on-taint=fail\` leaves it and exits with E_TAINTED, \`--on-taint=warn\` only reports; findings are printed on stderr.

      \`--name NAME\` makes a live sandbox: registered under that name while it runs, so \`sandboxctl exec NAME -- CMD\` starts more programs in it (with exactly its restrictions), \`sandboxctl ps\` lists it and \`sandboxctl stop NAME\` ends it. \`--detach\` prints the name once the sandbox runs and returns; the sandbox outlives the command (without \`--name\` a name is generated). A live sandbox's own program has no terminal of its own: use \`sandboxctl exec -it NAME -- sh\` for one.

      The exit status is the program's (128+N when it was killed by signal N). Failures of sandboxctl itself print \`sandboxctl: E_CODE: message\` and exit with 125; 126 and 127 mean the command could not be executed or was not found. The command is looked up and started as \`execvp\` does: in the sandbox's \`PATH\`, and a file without a \`#!\` line runs with \`/bin/sh\`. It starts with every signal at its default disposition and none blocked, as from a shell.
    `,
    examples: [
      ['Run an agent\'s command: host readable but the home by allow-list, this directory writable except .git/hooks and the like, no network', '$0 run --preset agent -- npm test'],
      ['Show one more path of the home and let one host socket through', '$0 run --preset agent --allow-home .config/nvim --allow-socket /run/user/1000/bus -- nvim'],
      ['Run the agent itself: it needs the network and its API key', '$0 run --preset agent --share-net --allow-env ANTHROPIC_API_KEY -- claude'],
      ['With a writable ./out, the network and one token let through', '$0 run --preset agent --bind ./out ./out --share-net --allow-env GITHUB_TOKEN -- npm publish --dry-run'],
      ['A hermetic build of ./src into ./dist', '$0 run --preset build --input src --input package.json --output dist -- make'],
      ['Keep a sandbox running under a name, then run more commands in it', '$0 run --name web --detach --preset agent -- npm run dev'],
      ['Run a shell on a read-only view of the host', '$0 run --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp -- sh'],
      ['A minimal /usr-only sandbox with a fresh /tmp of 64 MiB', '$0 run --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --size 67108864 --tmpfs /tmp -- /bin/ls -la /'],
      ['Give the program a config file from a file descriptor', '$0 run --ro-bind / / --file 3 /etc/app.conf -- app 3<app.conf'],
      ['Share the network and set the environment', '$0 run --ro-bind / / --share-net --clearenv --setenv PATH /usr/bin -- curl -I https://example.org'],
    ],
  });

  name = clipanionOption('--name') as string | undefined;
  detach = clipanionOption('--detach') as boolean;
  join = clipanionOption('--join') as boolean;
  joinCt = clipanionOption('--join-ct') as string | undefined;
  joinTag = clipanionOption('--join-tag') as string | undefined;
  joinTimeout = clipanionOption('--join-timeout') as number | undefined;
  joinPid = clipanionOption('--join-pid') as string | undefined;

  /** The --join flags, checked before anything starts: the group or the pid, or none. */
  joinSpec(): JoinSpec | undefined {
    const group = this.join || this.joinCt !== undefined || this.joinTag !== undefined || this.joinTimeout !== undefined;
    if (this.joinPid !== undefined) {
      if (group) throw usage('--join-pid cannot be combined with --join, --join-ct, --join-tag or --join-timeout', '--join-pid runs in an existing sandbox; the others start or meet a peer group');
    } else if (!group) return undefined;
    if (this.name !== undefined || this.detach) throw usage('--join and --join-pid cannot be combined with --name or --detach', 'a peer group is its own live sandbox, join.TAG');
    if (this.flag('--tty') === true) throw usage('--join and --join-pid cannot be combined with --tty', 'each peer passes its own stdio');
    if (this.joinPid !== undefined) return { kind: 'pid', pid: parseJoinPid(this.joinPid) };
    return resolveJoin({ count: this.joinCt, tag: this.joinTag, timeoutSeconds: this.joinTimeout });
  }

  async execute(): Promise<number> {
    let child: SandboxProcess;
    const live = this.name !== undefined || this.detach;
    let empty = false;
    let protectedPaths: readonly string[] = [];
    let presetName = '';
    let report: DenialWriter | undefined;
    try {
      const join = this.joinSpec();
      const { plan, preset } = this.resolvePlan();
      this.checkFlagFds();
      empty = (plan.ops ?? []).length === 0;
      protectedPaths = preset?.protectedPaths ?? [];
      presetName = preset?.name ?? '';
      if (join !== undefined) {
        // Each peer passes its own stdio; no terminal of its own (--tty is refused).
      } else if (live) {
        plan.live = { name: this.name ?? generateName(), detach: this.detach, end: { kind: 'program' } };
        if (presetName !== '') plan.live.labels = { preset: presetName };
        if (this.detach) plan.dieWithParent = false;
      } else if (plan.tty === undefined && canUseTty(plan)) {
        // As docker -it and ssh: a terminal gets a pseudo-terminal unless --no-tty.
        plan.tty = true;
      }
      const reportTo = this.flagString('--report');
      if (reportTo !== undefined) report = new DenialWriter(reportTo, this.context.stderr);
      const onDenial = report?.write;
      // The launcher checks the plan before it creates anything (the same
      // Rust check the addon would make here): not loading the addon for it
      // is 5-20 ms of the command's start (bench/README.md, issue 15).
      child =
        join !== undefined
          ? SandboxProcess.join(plan, join, { stdio: 'inherit', onDenial })
          : SandboxProcess.start(plan, { stdio: this.detach ? 'ignore' : 'inherit', onDenial, checkPlan: false });
    } catch (error) {
      throw this.explain(error);
    }
    if (this.detach) {
      // A failure before ready rejects both; `ready` carries it.
      child.exited.catch(() => {});
      try {
        const ready = await child.ready;
        child.release();
        this.context.stdout.write(`${ready.name}\n`);
        return 0;
      } catch (error) {
        throw this.explain(error);
      }
    }
    const stopForwarding = forwardSignals(child);
    try {
      const result = await child.exited;
      this.context.stderr.write(formatTaint(result.taint, result.quarantine));
      if (result.limit !== undefined) this.context.stderr.write(`sandboxctl: limit: ${result.limit} (the sandbox hit its ${result.limit} limit)\n`);
      report?.close();
      const status = exitStatus(result);
      if (status !== 0 && protectedPaths.length > 0) this.context.stderr.write(protectedNote(presetName, protectedPaths, process.cwd()));
      return status;
    } catch (error) {
      if (isSandboxError(error) && error.taint) this.context.stderr.write(formatTaint(error.taint));
      throw this.explain(empty ? emptySandbox(error) : error);
    } finally {
      report?.close();
      stopForwarding();
    }
  }
}

/**
 * A program not found in a sandbox with no ops: the root is empty, so nothing
 * is. Same code and status (127); the message says why and what to add.
 */
export function emptySandbox(error: unknown): unknown {
  if (!isSandboxError(error) || error.code !== 'E_EXEC' || error.exitStatus !== 127) return error;
  return new SandboxError(error.code, `${error.message}: the sandbox is empty (no preset, no config file and no ops), so it has no programs`, {
    hint: 'start from a preset, e.g. `sandboxctl run --preset ro-host -- CMD` (`sandboxctl presets` lists them), or add ops such as `--ro-bind / / --proc /proc --dev /dev`',
    exitStatus: error.exitStatus,
    cause: error,
  });
}

/**
 * After a failed run under a preset that protects paths: one line saying
 * which are read-only and how to let the program write one, since the
 * program itself only saw EROFS or EBUSY.
 */
export function protectedNote(preset: string, paths: readonly string[], cwd: string): string {
  const shown = paths.map((p) => (p.startsWith(`${cwd}/`) ? p.slice(cwd.length + 1) : p));
  const list = shown.length > 8 ? `${shown.slice(0, 8).join(', ')} and ${shown.length - 8} more` : shown.join(', ');
  return `sandboxctl: note: preset ${preset} keeps these read-only: ${list}; if the program needed to write one, allow it with --allow-write PATH (\`sandboxctl explain --preset ${preset}\` lists them)\n`;
}

/**
 * Forwards the CLI's signals to the launcher until the returned function is
 * called. The launcher escalates itself: a second SIGINT or SIGTERM makes it
 * SIGKILL the sandbox and still clean up (stand-ins, audit), so the CLI never
 * kills the launcher.
 */
export function forwardSignals(child: Pick<SandboxProcess, 'kill'>): () => void {
  const handlers = FORWARDED_SIGNALS.map((signal) => {
    const handler = (): void => {
      child.kill(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** The shell's view of an exit: the status, or 128+N for death by signal N. */
export function exitStatus(result: Pick<ExitResult, 'code' | 'signal'>): number {
  if (result.code !== null) return result.code;
  const number = result.signal === null ? undefined : constants.signals[result.signal];
  return 128 + (number ?? 0);
}

/**
 * `sandboxctl run --image IMAGE [flags]` with no command: the command the
 * image stores (what `image import` kept of its config's Entrypoint and Cmd;
 * the plan resolution reads it, packages/core/src/plan/sources.ts). A
 * second command on the path `run` without the positional command, so
 * clipanion picks it only when none is given; making `run`'s command
 * optional instead would let the program's own flags be taken for ours.
 * It has no usage of its own (help and the overview show `run`'s), and
 * without --image it is the usage error a missing command always was.
 */
export class RunImageDefaultsCommand extends RunCommand {
  static override paths = [['run']];
  static override usage = undefined as unknown as typeof RunCommand.usage;
  override program = undefined as unknown as string;
  override args = [] as string[];

  override async execute(): Promise<number> {
    if (this.flag('--image') === undefined) throw usage('not enough positional arguments', 'see `sandboxctl run --help`');
    return super.execute();
  }
}

/**
 * `--report FILE|-`: one JSON line per denial. A file gets each line as the
 * launcher reports it: created (0600, truncated) at the first line, or empty
 * when the run ends without one; each line is one write of a complete line.
 * `-` (stderr) gets them when the program has ended: the program shares that
 * stderr, and a line written while it is in the middle of one of its own
 * (curl writes "c", then "url: (97) ...") would split both.
 */
class DenialWriter {
  #fd: number | undefined;
  #closed = false;
  #held: string[] = [];

  constructor(
    readonly to: string,
    readonly stderr: NodeJS.WritableStream,
  ) {}

  readonly write = (denial: Denial): void => {
    if (this.#closed) return;
    const line = `${JSON.stringify(denial)}\n`;
    if (this.to === '-') {
      this.#held.push(line);
      return;
    }
    this.#fd ??= openSync(this.to, 'w', 0o600);
    writeSync(this.#fd, line);
  };

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.to === '-') {
      if (this.#held.length > 0) this.stderr.write(this.#held.join(''));
      return;
    }
    if (this.#fd === undefined) writeFileSync(this.to, '', { mode: 0o600 });
    else closeSync(this.#fd);
  }
}
