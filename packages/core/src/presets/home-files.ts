/**
 * Sanitized copies of the home's configuration files that tools inside
 * need (git's identity, npm's registry), built by allow-list: what is not
 * known to be harmless is dropped. The result is placed read-only with the
 * `file` op, so the program can neither read what was dropped nor change
 * what the host's git or npm will read next.
 */

import { looksLikeCredential } from './credentials';

/**
 * git keys kept (`section.key`, lower case). Nothing that runs a program
 * (core.editor, core.pager, core.sshCommand, core.fsmonitor, gpg.program…),
 * redirects (url.*.insteadOf, include.*, includeIf.*, core.hooksPath,
 * core.excludesFile), holds credentials (credential.*, http.*.extraHeader)
 * or signs (commit.gpgSign: there is no agent inside) survives.
 */
const GIT_KEYS = new Set([
  'user.name',
  'user.email',
  'user.useconfigonly',
  'author.name',
  'author.email',
  'committer.name',
  'committer.email',
  'init.defaultbranch',
  'core.autocrlf',
  'core.eol',
  'core.filemode',
  'core.ignorecase',
  'core.quotepath',
  'core.safecrlf',
  'core.whitespace',
  'core.precomposeunicode',
  'core.symlinks',
  'core.abbrev',
  'pull.rebase',
  'pull.ff',
  'push.default',
  'push.autosetupremote',
  'push.followtags',
  'fetch.prune',
  'fetch.prunetags',
  'rebase.autosquash',
  'rebase.autostash',
  'rebase.updaterefs',
  'merge.ff',
  'merge.conflictstyle',
  'diff.algorithm',
  'diff.renames',
  'diff.colormoved',
  'diff.mnemonicprefix',
  'status.showuntrackedfiles',
  'status.short',
  'status.branch',
  'branch.autosetuprebase',
  'branch.sort',
  'tag.sort',
  'log.date',
  'log.decorate',
  'column.ui',
  'commit.verbose',
  'commit.cleanup',
  'rerere.enabled',
  'help.autocorrect',
  'grep.linenumber',
  'grep.patterntype',
]);

/** Sections whose every two-part key is harmless (`color.ui`, `advice.detachedHead`). */
const GIT_SECTIONS = new Set(['color', 'advice']);

/** A git config text with only the harmless settings of {@link GIT_KEYS}, `color.*`, `advice.*` and aliases that run no shell. */
export function sanitizeGitConfig(text: string): string {
  const out: string[] = ['# sanitized by sandboxctl: identity and harmless settings only'];
  let section: string | undefined;
  let header: string | undefined;
  let written: string | undefined;
  const lines = joinContinuations(text);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[\s*([A-Za-z0-9.-]+)(\s+"(?:[^"\\\n]|\\.)*")?\s*\]\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!.toLowerCase();
      // `[section "sub"]` and `[section.sub]` hold three-part keys: none is kept.
      section = head[2] !== undefined || name.includes('.') ? undefined : name;
      header = section === undefined ? undefined : `[${section}]`;
      if (head[3] === undefined || head[3] === '') continue;
      // A key may follow the header on the same line.
      const rest = head[3];
      if (section !== undefined) keep(rest);
      continue;
    }
    if (section !== undefined) keep(line);
  }
  return `${out.join('\n')}\n`;

  function keep(entry: string): void {
    const m = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$/.exec(entry);
    if (!m || section === undefined) return;
    const key = m[1]!.toLowerCase();
    const value = m[2] ?? 'true';
    const full = `${section}.${key}`;
    const alias = section === 'alias' && !/^["\s]*!/.test(value);
    if (!GIT_KEYS.has(full) && !GIT_SECTIONS.has(section) && !alias) return;
    if (/[\0\r\n]/.test(value) || looksLikeCredential('', unquote(value))) return;
    if (written !== header) {
      out.push(header!);
      written = header;
    }
    out.push(`\t${key} = ${value}`);
  }
}

/** Lines with git's backslash-newline continuations joined. */
function joinContinuations(text: string): string[] {
  const out: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (line.endsWith('\\') && !line.endsWith('\\\\')) {
      pending += line.slice(0, -1);
      continue;
    }
    out.push(pending + line);
    pending = '';
  }
  if (pending !== '') out.push(pending);
  return out;
}

function unquote(value: string): string {
  return value.trim().replace(/^"(.*)"$/, '$1');
}

/**
 * `.npmrc` keys dropped: registry-scoped ones (`//host/:_authToken`), and
 * every key naming a token, password, login or client certificate.
 */
const NPMRC_SECRET_KEY = /^\/\/|(^|[_:-])(_?auth(token)?|_?password|username|email|otp|certfile|keyfile|cert|key|ca)$|token|secret|passw/i;

/** An `.npmrc` text without credentials (see {@link NPMRC_SECRET_KEY}) or comments. */
export function sanitizeNpmrc(text: string): string {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (NPMRC_SECRET_KEY.test(key) || looksLikeCredential('', unquote(value)) || /[\0\r]/.test(line)) continue;
    out.push(`${key}=${value}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
