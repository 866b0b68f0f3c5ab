/**
 * Escape suite, issue 8 routes 6 and 7: what `--preset agent` lets a hostile
 * program read of the caller's secrets and reach of the host's services, and
 * the everyday work that must keep working under the same rules.
 *
 * Route 7: the home is found through the password database, never `$HOME`
 * alone (`HOME=/nonexistent`, a home reached through a symlink), every listed
 * secret file and variable, `/etc/shadow` for a root caller. Route 6: a real
 * tmux server, an ssh-agent-like socket outside ~/.ssh, a session bus under
 * /run/user/UID with `XDG_RUNTIME_DIR` elsewhere, sockets in /tmp and
 * /var/tmp; each is connected to from inside and must refuse, and
 * `--allow-socket` is the positive control that the probe can connect.
 * Usability: a test runner writing coverage under $HOME, `go build` writing
 * ~/.cache, `npm install --share-net` with ~/.npm, nothing written inside
 * reaching the host's caches, and `npm install` without a network failing
 * fast.
 *
 * Secrets are planted in the caller's real home (root's or the test user's)
 * only where nothing exists yet, and removed again after the suite.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { HOME_CACHES, HOME_TOOLCHAINS, run } from '@sandboxctl/core';
import { UID, cli, requireKernel, tempDir, type Ran } from '../helpers';

beforeAll(requireKernel);

const HOME = realpathSync(userInfo().homedir);
const TAG = `sbx-${process.pid}-${Date.now()}`;
const PY = '/usr/bin/python3';

/** Paths this suite created in the real home, removed in reverse order after it. */
const created: string[] = [];
function ensureDir(dir: string): void {
  if (existsSync(dir)) return;
  ensureDir(dirname(dir));
  mkdirSync(dir, { mode: 0o700 });
  created.push(dir);
}
/** A file under the real home, made only when nothing is there (existing secrets are left alone). */
function plant(rel: string, text: string): string {
  const path = join(HOME, rel);
  ensureDir(dirname(path));
  if (!existsSync(path)) {
    writeFileSync(path, text, { mode: 0o600 });
    created.push(path);
  }
  return path;
}
const servers: Server[] = [];
const tmuxSockets: string[] = [];
afterAll(async () => {
  for (const s of tmuxSockets) spawnSync('tmux', ['-S', s, 'kill-server']);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  for (const path of created.reverse()) {
    try {
      if (existsSync(path) && readdirOrFile(path) === 'dir') rmdirSync(path);
      else unlinkSync(path);
    } catch {
      rmSync(path, { recursive: true, force: true });
    }
  }
});
function readdirOrFile(path: string): 'dir' | 'file' {
  try {
    readFileSync(path);
    return 'file';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'dir' : 'file';
  }
}

/** `sandboxctl run --preset agent EXTRA… -- sh -c SCRIPT` in `cwd` with `env`. */
function agent(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv; extra?: string[] } = {}): Promise<Ran> {
  const cwd = opts.cwd ?? project();
  return cli(['run', '--preset', 'agent', ...(opts.extra ?? []), '--', '/bin/sh', '-c', script], { cwd, env: opts.env ?? process.env });
}
function project(): string {
  const dir = tempDir('sbx-secrets-');
  created.push(dir);
  return dir;
}

/** A unix-socket listener on the host; `hits` counts connections that reached it. */
async function listen(path: string): Promise<{ hits: () => number }> {
  ensureDir(dirname(path));
  if (existsSync(path)) unlinkSync(path);
  let hits = 0;
  const server = createServer((c) => {
    hits += 1;
    c.on('error', () => undefined);
    c.end();
  });
  await new Promise<void>((r) => server.listen(path, r));
  servers.push(server);
  created.push(path);
  return { hits: () => hits };
}

/** Shell that connects to each path and prints `PATH CONNECTED` or `PATH ERRNO`. */
const connectScript = (paths: string[]): string =>
  `${PY} -c 'import socket,sys,errno
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(p); print(p, "CONNECTED")
    except OSError as e:
        print(p, errno.errorcode.get(e.errno, e.errno))
' ${paths.map((p) => `'${p}'`).join(' ')}`;
const verdicts = (stdout: string): Record<string, string> =>
  Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]));

describe('route 7: secrets in the home', () => {
  const secretFiles = [
    '.ssh/id_rsa',
    '.git-credentials',
    '.aws/credentials',
    '.claude/.credentials.json',
    '.codex/auth.json',
    '.cache/huggingface/token',
    '.config/containers/auth.json',
    '.terraformrc',
    '.bash_history',
    '.config/Bitwarden CLI/data.json',
    '.password-store/bank.gpg',
    '.mozilla/firefox/profile/logins.json',
    '.thunderbird/profile/logins.json',
    '.netrc',
    '.pypirc',
    '.docker/config.json',
    '.kube/config',
    '.config/gh/hosts.yml',
  ];
  let planted: string[];
  beforeAll(() => {
    planted = secretFiles.map((rel) => plant(rel, `secret-${TAG}\n`));
  });

  const readsScript = (home: string): string =>
    `for f in ${secretFiles.map((rel) => `'${join(home, rel)}'`).join(' ')}; do if [ -e "$f" ]; then echo "EXISTS $f"; fi; done; ls -A '${home}' | grep -v -x ${shown.map((n) => `-e '${n}'`).join(' ')}; echo done`;
  // What the allow-list may put at the top of the home (or create on the way to it).
  const shown = [...new Set([...HOME_TOOLCHAINS, ...HOME_CACHES, '.gitconfig', '.config/git', '.npmrc', '.local/lib'].map((p) => p.split('/')[0]!))];

  it.each([
    ['HOME as the password database says', undefined],
    ['HOME=/nonexistent', '/nonexistent'],
    ['HOME unset', ''],
  ])('no secret file of the real home is readable or even present (%s)', async (_name, home) => {
    const env = { ...process.env };
    if (home === '') delete env.HOME;
    else if (home !== undefined) env.HOME = home;
    const r = await agent(readsScript(HOME), { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('done\n');
    // The host still has them: the test planted real files.
    for (const p of planted) expect(existsSync(p)).toBe(true);
  });

  it('the real home is an empty private tmpfs: writes inside reach nothing on the host', async () => {
    const r = await agent(`touch "${HOME}/.${TAG}-planted" && mkdir -p "${HOME}/.local/share/${TAG}" && echo ok`);
    expect(r.stdout).toBe('ok\n');
    expect(existsSync(join(HOME, `.${TAG}-planted`))).toBe(false);
    expect(existsSync(join(HOME, '.local/share', TAG))).toBe(false);
  });

  it('a home reached through a symlink is hidden at its real path and through the link; writes do not reach it', async () => {
    const top = tempDir('sbx-linkhome-');
    created.push(top);
    const real = join(top, 'real');
    mkdirSync(join(real, '.ssh'), { recursive: true });
    writeFileSync(join(real, '.ssh/id_ed25519'), `key-${TAG}\n`);
    writeFileSync(join(real, '.bashrc'), 'original\n');
    writeFileSync(join(real, '.gitconfig'), `[user]\n\tname = Linked\n[url "https://u:ghp_${'a'.repeat(36)}@github.com/"]\n\tinsteadOf = https://github.com/\n[credential]\n\thelper = store\n`);
    mkdirSync(join(real, 'proj'));
    const link = join(top, 'link');
    symlinkSync(real, link);
    // The link lives in /tmp, private inside: the home is reached by its real path there.
    const script = `cat "${link}/.ssh/id_ed25519" "${real}/.ssh/id_ed25519" 2>/dev/null; echo evil >> "${real}/.bashrc"; cat "${real}/.gitconfig"; echo end`;
    // $HOME names the link (CLI), and the library is given the link as the home.
    const viaEnv = await agent(script, { cwd: join(real, 'proj'), env: { ...process.env, HOME: link } });
    const viaLibrary = await run({ argv: ['/bin/sh', '-c', script], preset: { name: 'agent', cwd: join(real, 'proj'), home: link } });
    for (const r of [viaEnv, viaLibrary]) {
      expect(r.stdout).not.toContain(`key-${TAG}`);
      expect(r.stdout).toContain('name = Linked');
      expect(r.stdout).not.toMatch(/ghp_|helper|insteadOf/);
      expect(r.stdout).toMatch(/end\n$/);
    }
    expect(readFileSync(join(real, '.bashrc'), 'utf8')).toBe('original\n');
  });

  it('credential variables and values do not survive, CA bundles do', async () => {
    const secrets: Record<string, string> = {
      MYSQL_PWD: `pw-${TAG}`,
      SSHPASS: `pw-${TAG}`,
      BW_SESSION: `s-${TAG}`,
      OP_SESSION_myaccount: `s-${TAG}`,
      SMTP_PASS: `pw-${TAG}`,
      PASSPHRASE: `pw-${TAG}`,
      GITHUB_TOKEN: `ghp_${'b'.repeat(36)}`,
      ANTHROPIC_API_KEY: `sk-ant-${TAG}-abcdefghijklmnopqrstuvwxyz`,
      SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1',
      DATABASE_URL: `postgres://app:${TAG}@db/app`,
      // Credential shapes under names that are on the allow-list.
      EDITOR: `sk_live_${TAG.replace(/-/g, '')}abcdef`,
      PAGER: 'AIzaSyA1234567890abcdefghijklmnopqrstu',
      NODE_OPTIONS: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl',
      CC: 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abcdefghijklmnopqrstuvwxyz0123==',
    };
    const r = await agent('env', { env: { ...process.env, ...secrets, AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt', SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt', LANG: 'C.UTF-8' } });
    expect(r.code).toBe(0);
    for (const [name, value] of Object.entries(secrets)) {
      expect(r.stdout).not.toContain(`${name}=`);
      expect(r.stdout).not.toContain(value);
    }
    expect(r.stdout).toContain('AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n');
    expect(r.stdout).toContain('SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n');
    expect(r.stdout).toContain('LANG=C.UTF-8\n');
    const kept = await agent('echo "$MYSQL_PWD"', { env: { ...process.env, MYSQL_PWD: 'allowed' }, extra: ['--allow-env', 'MYSQL_PWD'] });
    expect(kept.stdout).toBe('allowed\n');
  });

  it('/etc/shadow, gshadow and ssh host keys are not readable (root callers own them inside)', async () => {
    const keys = existsSync('/etc/ssh') ? spawnSync('sh', ['-c', 'ls /etc/ssh/*_key 2>/dev/null'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean) : [];
    const files = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', ...keys].filter((f) => existsSync(f));
    expect(files).toContain('/etc/shadow');
    const r = await agent(`for f in ${files.join(' ')}; do if cat "$f" 2>/dev/null | grep -q .; then echo "READ $f"; fi; done; echo done`);
    expect(r.stdout).toBe('done\n');
    if (UID === 0) {
      // The positive control: root outside reads it.
      expect(readFileSync('/etc/shadow', 'utf8')).toMatch(/^root:/m);
    }
  });
});

describe('route 6: host services through pathname sockets', () => {
  it('sockets in the project, /tmp, /var/tmp, /run/user/UID (XDG_RUNTIME_DIR elsewhere) and a cache refuse; --allow-socket lets one through', async () => {
    const runUser = `/run/user/${UID}`;
    if (UID === 0) ensureDir(runUser);
    if (!existsSync(runUser)) throw new Error(`${runUser} must exist and be yours, as logind makes it at login (scripts/test.sh creates it for the test user)`);
    const dir = project();
    const places = {
      project: join(dir, 'tmp/sockets/puma.sock'),
      tmp: `/tmp/${TAG}/tmux-${UID}/default`,
      sshAgent: `/tmp/ssh-${TAG}/agent.1234`,
      varTmp: `/var/tmp/${TAG}/s.sock`,
      bus: `${runUser}/${TAG}-bus`,
      cache: join(HOME, `.cache/pip/${TAG}.sock`),
    };
    const listeners = Object.fromEntries(await Promise.all(Object.entries(places).map(async ([k, p]) => [k, await listen(p)] as const)));
    const env = { ...process.env, XDG_RUNTIME_DIR: `/tmp/xdg-${TAG}`, SSH_AUTH_SOCK: places.sshAgent };
    const r = await agent(connectScript(Object.values(places)) + '; echo "SSH_AUTH_SOCK=${SSH_AUTH_SOCK-}"', { env, cwd: dir });
    expect(r.stderr).toBe('');
    const seen = verdicts(r.stdout.replace(/SSH_AUTH_SOCK=.*\n/, ''));
    for (const p of Object.values(places)) expect([p, seen[p]]).toEqual([p, expect.stringMatching(/^(ENOENT|ECONNREFUSED|ENOTSOCK|EACCES)$/)]);
    expect(r.stdout).toContain('SSH_AUTH_SOCK=\n');
    for (const l of Object.values(listeners)) expect(l.hits()).toBe(0);
    // The positive control: the same probe connects when the socket is allowed.
    const allowed = await agent(connectScript([places.bus, places.cache]), { env, cwd: dir, extra: ['--allow-socket', places.bus, '--allow-socket', places.cache] });
    expect(verdicts(allowed.stdout)).toEqual({ [places.bus]: 'CONNECTED', [places.cache]: 'CONNECTED' });
    expect(listeners.bus!.hits()).toBe(1);
  });

  it('a real tmux server on the host cannot be driven from inside (send-keys runs nothing)', async () => {
    const which = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
    expect(which.status).toBe(0);
    const marker = join(tempDir('sbx-tmux-'), 'ran');
    created.push(dirname(marker));
    for (const socket of [`/tmp/${TAG}-tmux/default`, join(HOME, `.cache/pip/${TAG}-tmux`)]) {
      ensureDir(dirname(socket));
      created.push(socket);
      tmuxSockets.push(socket);
      const started = spawnSync('tmux', ['-S', socket, 'new-session', '-d', '-s', 'sbx', '/bin/sh'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } });
      expect(started.stderr).toBe('');
      const r = await agent(`tmux -S '${socket}' send-keys -t sbx 'touch ${marker}' Enter; echo rc=$?`, { env: { ...process.env, TMUX_TMPDIR: dirname(socket) } });
      expect(r.stdout).toMatch(/^rc=[1-9]/m);
      await new Promise((res) => setTimeout(res, 300));
      expect(existsSync(marker)).toBe(false);
      // The positive control: the same command from the host runs.
      spawnSync('tmux', ['-S', socket, 'send-keys', '-t', 'sbx', `touch ${marker}`, 'Enter']);
      const deadline = Date.now() + 3000;
      while (!existsSync(marker) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      expect(existsSync(marker)).toBe(true);
      unlinkSync(marker);
      spawnSync('tmux', ['-S', socket, 'kill-server']);
    }
  });

  it('explain names each masked socket and the private /run; a cache is copy-on-write and its sockets need no mask', async () => {
    const dir = project();
    const sock = join(dir, `tmp/sockets/${TAG}-explain.sock`);
    const cached = join(HOME, `.cache/pip/${TAG}-explain.sock`);
    await listen(sock);
    await listen(cached);
    const r = await cli(['explain', '--preset', 'agent'], { cwd: dir });
    const esc = (p: string): string => p.replace(/[.]/g, '\\.');
    expect(r.stdout).toMatch(new RegExp(`${esc(sock)} +a host socket: connecting to it fails`));
    expect(r.stdout).toMatch(new RegExp(`${esc(join(HOME, '.cache/pip'))} +cache, copy-on-write`));
    expect(r.stdout).not.toContain(cached);
    expect(r.stdout).toMatch(/\n {2}\/run +host services/);
  });
});

describe('usability under the same rules', () => {
  it('a test runner that writes coverage under $HOME passes, and nothing reaches the host home', async () => {
    const dir = project();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'cov', version: '1.0.0', scripts: { test: 'node test.js' } }));
    writeFileSync(
      join(dir, 'test.js'),
      `const fs = require('fs'), os = require('os'), path = require('path');
const out = path.join(os.homedir(), '.cache', '${TAG}-coverage');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'coverage.json'), '{}');
fs.writeFileSync(path.join(os.homedir(), '.${TAG}-nyc'), 'x');
console.log('covered');`,
    );
    const r = await agent('npm test --silent', { cwd: dir });
    expect([r.code, r.stdout.trim(), r.stderr]).toEqual([0, 'covered', '']);
    expect(existsSync(join(HOME, '.cache', `${TAG}-coverage`))).toBe(false);
    expect(existsSync(join(HOME, `.${TAG}-nyc`))).toBe(false);
  });

  it('go build writes ~/.cache/go-build inside and leaves the host cache as it was', async () => {
    const dir = project();
    writeFileSync(join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.21\n');
    writeFileSync(join(dir, 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n');
    const hostCache = join(HOME, '.cache/go-build');
    const before = existsSync(hostCache) ? spawnSync('ls', ['-A', hostCache], { encoding: 'utf8' }).stdout : undefined;
    // -buildvcs=false: this is not a repository (VCS stamping is the real-work suite's concern).
    const env = { ...process.env, PATH: `/usr/local/go/bin:${process.env.PATH}`, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod -buildvcs=false' };
    const r = await agent(`go build -o hello . && ./hello && [ -n "$(ls -A ~/.cache/go-build)" ] && touch ~/.cache/go-build/${TAG}-planted && echo built`, { env, cwd: dir });
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'hello\nbuilt\n', '']);
    expect(existsSync(join(hostCache, `${TAG}-planted`))).toBe(false);
    expect(existsSync(hostCache) ? spawnSync('ls', ['-A', hostCache], { encoding: 'utf8' }).stdout : undefined).toBe(before);
    // A cold cache builds the standard library first: minutes on a loaded machine.
  }, 300_000);

  it('npm install --share-net works with ~/.npm copy-on-write: the host cache is read, nothing planted reaches it', async () => {
    ensureDir(join(HOME, '.npm'));
    const hostFile = plant(`.npm/${TAG}-host-entry`, 'from the host\n');
    const dir = project();
    mkdirSync(join(dir, 'dep'));
    writeFileSync(join(dir, 'dep/package.json'), JSON.stringify({ name: 'dep', version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(dir, 'dep/index.js'), 'module.exports = 42;\n');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', dependencies: { dep: 'file:./dep' } }));
    const r = await agent(
      `cat ~/.npm/${TAG}-host-entry && npm install --no-audit --no-fund --loglevel=error && node -p "require('dep')" && echo poisoned > ~/.npm/${TAG}-host-entry && touch ~/.npm/${TAG}-planted && echo done`,
      { extra: ['--share-net'], cwd: dir },
    );
    expect(r.stderr).not.toMatch(/EROFS/);
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^from the host\n(.*\n)*42\ndone\n$/)]);
    expect(readFileSync(hostFile, 'utf8')).toBe('from the host\n');
    expect(existsSync(join(HOME, '.npm', `${TAG}-planted`))).toBe(false);
  });

  it('npm install of a registry package without a network fails fast (no resolver, no retries)', async () => {
    const dir = project();
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'offline', version: '1.0.0' }));
    const started = Date.now();
    const r = await agent('cat /etc/resolv.conf; npm install left-pad@1.3.0 --no-audit --no-fund; echo "rc=$?"', { cwd: dir });
    const elapsed = Date.now() - started;
    expect(r.stdout).toMatch(/^rc=[1-9]/m);
    expect(r.stdout).not.toMatch(/nameserver/);
    expect(elapsed).toBeLessThan(10_000);
  });
});
