// Config trust: a sandboxctl.json found by looking up applies only when that
// exact file with that exact content was trusted; the store is private,
// replaced atomically and refused when it is a symlink or someone else's;
// `~` in config paths is the real home, never a directory named `~`.

import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import {
  checkTrust,
  configStatus,
  loadConfig,
  readTrustStore,
  realHome,
  stateDir,
  trustFile,
  trustList,
  trustStorePath,
  untrustFile,
  writeTrustStore,
} from '../src/config';
import { buildPlan } from '../src/run';

let dir: string;
let store: string;
const savedEnv = { ...process.env };

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sandboxctl-trust-')));
  process.env.XDG_STATE_HOME = join(dir, 'state');
  store = trustStorePath();
});
afterEach(() => {
  process.env = { ...savedEnv };
  rmSync(dir, { recursive: true, force: true });
});

function write(path: string, value: unknown): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  chmodSync(path, 0o644);
  return path;
}

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected an error');
}

describe('where the store lives', () => {
  it('is $XDG_STATE_HOME/sandboxctl/trust.json when that is absolute', () => {
    expect(store).toBe(join(dir, 'state', 'sandboxctl', 'trust.json'));
  });

  it('is under the home from the password database, not $HOME, otherwise', () => {
    process.env.HOME = join(dir, 'fake-home');
    process.env.XDG_STATE_HOME = 'relative/state';
    const home = realpathSync(userInfo().homedir);
    expect(realHome()).toBe(home);
    expect(stateDir()).toBe(join(home, '.local', 'state', 'sandboxctl'));
    delete process.env.XDG_STATE_HOME;
    expect(trustStorePath()).toBe(join(home, '.local', 'state', 'sandboxctl', 'trust.json'));
  });
});

describe('trusting a file', () => {
  it('records its real path and hash in a 0600 store in a 0700 directory, written with no temp file left', () => {
    const file = write(join(dir, 'p', 'sandboxctl.json'), { preset: 'agent' });
    const entry = trustFile(file, readFileSync(file));
    expect(entry).toMatchObject({ path: file, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(lstatSync(store).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(dir, 'state', 'sandboxctl')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(dir, 'state', 'sandboxctl'))).toEqual(['trust.json']);
    expect(readTrustStore()).toEqual([entry]);
    expect(checkTrust(file, readFileSync(file))).toEqual({ trusted: true, entry });
  });

  it('says changed once the content differs, and trusting again replaces the record', () => {
    const file = write(join(dir, 'sandboxctl.json'), { preset: 'agent' });
    trustFile(file, readFileSync(file));
    write(file, { preset: 'agent', network: 'host' });
    expect(checkTrust(file, readFileSync(file))).toMatchObject({ trusted: false, reason: 'changed' });
    trustFile(file, readFileSync(file));
    expect(readTrustStore()).toHaveLength(1);
    expect(checkTrust(file, readFileSync(file)).trusted).toBe(true);
  });

  it('records a symlink as the real file plus the link; another link to the same file is not trusted', () => {
    const real = write(join(dir, 'real', 'sandboxctl.json'), { hostname: 'x' });
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    symlinkSync(real, join(dir, 'a', 'sandboxctl.json'));
    symlinkSync(real, join(dir, 'b', 'sandboxctl.json'));
    const entry = trustFile(join(dir, 'a', 'sandboxctl.json'), readFileSync(real));
    expect(entry.path).toBe(real);
    expect(entry.links).toEqual([join(dir, 'a', 'sandboxctl.json')]);
    const bytes = readFileSync(real);
    expect(checkTrust(join(dir, 'a', 'sandboxctl.json'), bytes).trusted).toBe(true);
    expect(checkTrust(real, bytes).trusted).toBe(true);
    expect(checkTrust(join(dir, 'b', 'sandboxctl.json'), bytes)).toMatchObject({ trusted: false, reason: 'link' });
  });

  it('forgets a file with --remove semantics, and lists what changed or went missing', () => {
    const a = write(join(dir, 'a', 'sandboxctl.json'), {});
    const b = write(join(dir, 'b', 'sandboxctl.json'), {});
    const c = write(join(dir, 'c', 'sandboxctl.json'), {});
    for (const f of [a, b, c]) trustFile(f, readFileSync(f));
    write(b, { hostname: 'changed' });
    rmSync(c);
    expect(trustList().map((e) => [e.path, e.status])).toEqual([
      [a, 'trusted'],
      [b, 'changed'],
      [c, 'missing'],
    ]);
    expect(untrustFile(c).map((e) => e.path)).toEqual([c]);
    expect(untrustFile(a).map((e) => e.path)).toEqual([a]);
    expect(untrustFile(a)).toEqual([]);
    expect(readTrustStore().map((e) => e.path)).toEqual([b]);
  });
});

describe('the store lock', () => {
  it('takes over a lock left by a killed writer, and releases its own', () => {
    mkdirSync(join(dir, 'state', 'sandboxctl'), { recursive: true, mode: 0o700 });
    mkdirSync(`${store}.lock`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${store}.lock`, old, old);
    const file = write(join(dir, 'sandboxctl.json'), {});
    trustFile(file, readFileSync(file));
    expect(readdirSync(join(dir, 'state', 'sandboxctl'))).toEqual(['trust.json']);
  });

  it('waits for a live lock, then gives up with E_CONFIG_UNTRUSTED naming it', () => {
    mkdirSync(`${store}.lock`, { recursive: true });
    const file = write(join(dir, 'sandboxctl.json'), {});
    const started = Date.now();
    expect(codeOf(() => trustFile(file, readFileSync(file)))).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/locked by another sandboxctl/) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4000);
    expect(readTrustStore()).toEqual([]);
  });
});

describe('an unsafe store is refused, never followed', () => {
  it('refuses a store that is a symlink, for reading and for writing', () => {
    mkdirSync(join(dir, 'state', 'sandboxctl'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify({ version: 1, trusted: [] }));
    symlinkSync(join(dir, 'elsewhere.json'), store);
    expect(codeOf(() => readTrustStore())).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/is a symlink/) });
    expect(codeOf(() => writeTrustStore([]))).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/is a symlink/) });
    expect(readFileSync(join(dir, 'elsewhere.json'), 'utf8')).toBe(JSON.stringify({ version: 1, trusted: [] }));
  });

  it('refuses a store directory that is a symlink', () => {
    mkdirSync(join(dir, 'state'), { recursive: true });
    mkdirSync(join(dir, 'other'));
    symlinkSync(join(dir, 'other'), join(dir, 'state', 'sandboxctl'));
    const file = write(join(dir, 'sandboxctl.json'), {});
    expect(codeOf(() => trustFile(file, readFileSync(file)))).toMatchObject({ code: 'E_CONFIG_UNTRUSTED' });
    expect(readdirSync(join(dir, 'other'))).toEqual([]);
  });

  it('refuses a store owned by another user', () => {
    // As root, a store handed to nobody; otherwise a root-owned directory.
    let path: string;
    if (process.geteuid!() === 0) {
      mkdirSync(join(dir, 'state', 'sandboxctl'), { recursive: true, mode: 0o700 });
      writeFileSync(store, JSON.stringify({ version: 1, trusted: [] }), { mode: 0o600 });
      chownSync(store, 65534, 65534);
      path = store;
    } else {
      path = '/etc/passwd';
    }
    expect(codeOf(() => readTrustStore(path))).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/owned by uid/) });
  });

  it('refuses a store others can write', () => {
    mkdirSync(join(dir, 'state', 'sandboxctl'), { recursive: true, mode: 0o700 });
    writeFileSync(store, JSON.stringify({ version: 1, trusted: [] }), { mode: 0o600 });
    chmodSync(store, 0o666);
    expect(codeOf(() => readTrustStore())).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/writable by others/) });
  });
});

describe('loading a discovered config', () => {
  it('refuses an untrusted one with E_CONFIG_UNTRUSTED naming the file and the command that trusts it', () => {
    const file = write(join(dir, 'pkg', 'sandboxctl.json'), { network: 'host', seccomp: { preset: 'none' } });
    const error = codeOf(() => loadConfig(file, { discovered: true }));
    expect(error.code).toBe('E_CONFIG_UNTRUSTED');
    expect(error.message).toContain(file);
    expect(error.message).toContain(`\`sandboxctl trust ${file}\``);
  });

  it('loads a trusted one and refuses it again once it changed', () => {
    const file = write(join(dir, 'sandboxctl.json'), { hostname: 'one' });
    trustFile(file, readFileSync(file));
    expect(loadConfig(file, { discovered: true }).layer.hostname).toBe('one');
    write(file, { hostname: 'two' });
    const error = codeOf(() => loadConfig(file, { discovered: true }));
    expect(error).toMatchObject({ code: 'E_CONFIG_UNTRUSTED', message: expect.stringMatching(/changed since you trusted it/) });
  });

  it('takes a file named explicitly (--config, the library option) as trusted', () => {
    const file = write(join(dir, 'sandboxctl.json'), { hostname: 'named' });
    expect(loadConfig(file).layer.hostname).toBe('named');
  });

  it('configStatus says which file a run finds and whether it is trusted', () => {
    const file = write(join(dir, 'sandboxctl.json'), { hostname: 'x' });
    mkdirSync(join(dir, 'sub'));
    expect(configStatus(join(dir, 'sub'))).toMatchObject({ file, trusted: false, error: { code: 'E_CONFIG_UNTRUSTED' } });
    trustFile(file, readFileSync(file));
    expect(configStatus(join(dir, 'sub'))).toMatchObject({ file, trusted: true, config: { layer: { hostname: 'x' } } });
  });
});

describe('~ in config paths', () => {
  it('is the real home from the password database, in ops, cwd, inputs and output', () => {
    process.env.HOME = join(dir, 'not-home');
    const home = realHome();
    const file = write(join(dir, 'sandboxctl.json'), {
      ops: [
        { kind: 'bind', source: '~/.cache', target: '~/.cache' },
        { kind: 'tmpfs', target: '~' },
      ],
      cwd: '~/work',
      inputs: ['~/src'],
      output: '~/out',
    });
    const config = loadConfig(file);
    expect(config.layer.ops).toEqual([
      { kind: 'bind', source: join(home, '.cache'), target: join(home, '.cache') },
      { kind: 'tmpfs', target: home },
    ]);
    expect(config.layer.cwd).toBe(join(home, 'work'));
    expect(config.inputs).toEqual([join(home, 'src')]);
    expect(config.output).toBe(join(home, 'out'));
    expect(JSON.stringify(config)).not.toContain(join(dir, '~'));
  });

  it('refuses ~user with E_CONFIG_INVALID naming the JSON path', () => {
    const file = write(join(dir, 'sandboxctl.json'), { ops: [{ kind: 'bind', source: '~root/.ssh', target: '/x' }] });
    expect(codeOf(() => loadConfig(file))).toMatchObject({ code: 'E_CONFIG_INVALID', message: expect.stringMatching(/ops\[0\]\.source: "~root\/\.ssh"/) });
  });
});

describe('the library config option', () => {
  it('layers a named config between the preset and the options; its preset applies unless one is given', () => {
    const file = write(join(dir, 'cfg.json'), { preset: 'ro-host', hostname: 'cfg', ops: [{ kind: 'tmpfs', target: 'scratch' }] });
    const plan = buildPlan({ argv: ['true'], config: file, ops: [{ kind: 'tmpfs', target: '/flag' }] });
    expect(plan.hostname).toBe('cfg');
    const targets = (plan.ops ?? []).map((op) => (op as { target: string }).target);
    expect(targets.indexOf(join(dir, 'scratch'))).toBeLessThan(targets.indexOf('/flag'));
    expect(targets.length).toBeGreaterThan(2);
    expect(buildPlan({ argv: ['true'], config: file, hostname: 'opt' }).hostname).toBe('opt');
  });
});
