/**
 * `sandboxctl trust [FILE]`, `trust --list [--json]`, `trust --remove FILE`:
 * the trust store of sandboxctl.json files (see @sandboxctl/core's
 * config/trust). A file found by looking up from the current directory
 * applies to a run only once trusted with its current content.
 */

import { lstatSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import {
  checkConfigOwner,
  findConfig,
  loadConfig,
  SandboxError,
  trustFile,
  trustList,
  trustStorePath,
  untrustFile,
} from '@sandboxctl/core';
import type { SandboxctlContext } from '../context';
import { clipanionOption } from '../flags';

export class TrustCommand extends Command<SandboxctlContext> {
  static override paths = [['trust']];
  static override schema = [t.hasMutuallyExclusiveKeys(['list', 'remove', 'file'], { missingIf: 'falsy' })];
  static override usage = Command.Usage({
    description: 'trust a sandboxctl.json so runs below its directory use it',
    details: `
      A sandboxctl.json found by looking up from the current directory can widen what a sandbox allows (the network, a writable home, no seccomp), and anyone who can write a directory on the way up, a sandboxed program in its own project included, could plant one. So a found file applies only when you have trusted that exact file with its current content, as \`direnv allow\` and \`mise trust\` do; a run refuses an untrusted or changed one with \`E_CONFIG_UNTRUSTED\`. A file given with \`--config FILE\` is trusted as given.

      \`sandboxctl trust\` trusts the file a run here would find, \`sandboxctl trust FILE\` that file. It is checked first (schema, owner and mode). A symlink is recorded as the file it points to, plus the link itself: a run through another link to the same file is not trusted. Trust again after every change you have reviewed.

      The store is \`$XDG_STATE_HOME/sandboxctl/trust.json\`, or \`~/.local/state/sandboxctl/trust.json\` in your home from the password database; it is private (0600 in a 0700 directory) and refused when it is a symlink or not yours.
    `,
    examples: [
      ['Review what the config a run here would use does (explain shows an untrusted one too), then trust it', '$0 explain && $0 trust'],
      ['Trust a given file', '$0 trust ~/src/app/sandboxctl.json'],
      ['List the trusted files and whether they changed', '$0 trust --list'],
      ['Stop trusting one', '$0 trust --remove ~/src/app/sandboxctl.json'],
    ],
  });

  list = Option.Boolean('--list', false, { description: 'List the trusted files: trusted, changed (not used until trusted again) or missing' });
  json = Option.Boolean('--json', false, { description: 'With --list: print the list as JSON' });
  remove = clipanionOption('--remove') as string | undefined;
  file = Option.String({ name: 'FILE', required: false });

  async execute(): Promise<number> {
    if (this.json && !this.list) throw usage('--json only applies to --list', 'write `sandboxctl trust --list --json`');
    if (this.list) return this.printList();
    if (this.remove !== undefined) return this.untrust(this.remove);
    return this.trust();
  }

  private trust(): number {
    const cwd = process.cwd();
    const file = this.file !== undefined ? resolve(cwd, this.file) : findConfig(cwd);
    if (file === undefined) {
      throw usage(`no sandboxctl.json in ${cwd} or a directory above it`, 'name the file: `sandboxctl trust FILE`');
    }
    try {
      lstatSync(file);
    } catch {
      throw usage(`${show(file)}: no such file`, 'name an existing sandboxctl.json');
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new SandboxError('E_CONFIG_INVALID', `${show(file)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    // One read: the content checked is the content whose hash is recorded.
    loadConfig(file, { content: bytes });
    checkConfigOwner(file);
    const entry = trustFile(file, bytes);
    const through = entry.path === file ? '' : ` (through ${show(file)})`;
    this.context.stdout.write(`trusted ${show(entry.path)}${through}, sha256 ${entry.sha256.slice(0, 16)}…\n`);
    return 0;
  }

  private untrust(path: string): number {
    const removed = untrustFile(resolve(process.cwd(), path));
    if (removed.length === 0) throw usage(`${show(resolve(path))} is not trusted`, 'see `sandboxctl trust --list`');
    for (const entry of removed) this.context.stdout.write(`no longer trusted: ${show(entry.path)}\n`);
    return 0;
  }

  private printList(): number {
    const entries = trustList();
    if (this.json) {
      this.context.stdout.write(`${JSON.stringify({ store: trustStorePath(), trusted: entries }, null, 2)}\n`);
      return 0;
    }
    if (entries.length === 0) {
      this.context.stdout.write(`no trusted config files (store: ${trustStorePath()})\n`);
      return 0;
    }
    const lines: string[] = [];
    for (const e of entries) {
      const status = e.status === 'trusted' ? 'trusted' : e.status === 'changed' ? 'changed since trusted, not used' : 'missing';
      lines.push(`${e.path}: ${status} (sha256 ${e.sha256.slice(0, 16)}…, ${e.trustedAt})`);
      for (const link of e.links ?? []) lines.push(`  through ${link}`);
    }
    this.context.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
}

function usage(message: string, hint?: string): SandboxError {
  return new SandboxError('E_USAGE', message, { hint });
}

function show(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}
