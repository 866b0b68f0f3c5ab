// sandboxctl.json: the published schema is the addon's (the Rust ConfigFile
// type's) and stays in step with the plan schema, discovery walks up and skips
// empty files, and every mistake is E_CONFIG_INVALID naming the file and the
// JSON path of the value.

import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const planSchemaText = readFileSync(join(root, 'schema', 'plan.schema.json'), 'utf8');

jest.mock('@sandboxctl/native', () => jest.requireActual<typeof import('./support/native-mock')>('./support/native-mock').native);

import { CONFIG_FILE, checkConfig, configSchema, findConfig, loadConfig } from '../src/config';
import { PRESET_NAMES } from '../src/presets';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandboxctl-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, value: unknown, mode = 0o644): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  chmodSync(path, mode);
  return path;
}

function configError(file: string, options = {}): { message: string; path?: string } {
  try {
    loadConfig(file, options);
  } catch (error) {
    expect(error).toMatchObject({ code: 'E_CONFIG_INVALID' });
    return error as { message: string; path?: string };
  }
  throw new Error('expected E_CONFIG_INVALID');
}

describe('schema/config.schema.json', () => {
  it('is what the addon generates from its ConfigFile type (run `npm run gen` when it drifts)', () => {
    const committed = readFileSync(join(root, 'schema', 'config.schema.json'), 'utf8');
    expect(committed).toBe(jest.requireActual<typeof import('@sandboxctl/native')>('@sandboxctl/native').configSchema());
    expect(JSON.parse(committed)).toEqual(configSchema());
  });

  it('embeds every plan field but argv, version, live, report and the bubblewrap drop-in\'s per-run fields, the plan definitions, and the preset names', () => {
    const plan = JSON.parse(planSchemaText) as { properties: Record<string, unknown>; $defs: unknown };
    const config = JSON.parse(readFileSync(join(root, 'schema', 'config.schema.json'), 'utf8')) as {
      properties: Record<string, { enum?: string[] }>;
      $defs: unknown;
    };
    for (const name of Object.keys(plan.properties)) {
      const excluded = ['argv', 'version', 'live', 'report', 'asPid1', 'capInherit', 'blockFd', 'usernsBlockFd', 'reportNamespaces', 'joinNs'];
      if (excluded.includes(name)) expect(config.properties[name]).toBeUndefined();
      else expect(config.properties[name]).toBeDefined();
    }
    expect(config.$defs).toEqual(plan.$defs);
    expect(config.properties.preset!.enum).toEqual([...PRESET_NAMES]);
  });
});

describe('findConfig', () => {
  it('finds the nearest file upward and skips empty ones', () => {
    const top = write(join(dir, CONFIG_FILE), { preset: 'agent' });
    const deep = join(dir, 'a', 'b', 'c');
    mkdirSync(deep, { recursive: true });
    expect(findConfig(deep)).toBe(top);
    write(join(dir, 'a', CONFIG_FILE), '  \n');
    expect(findConfig(deep)).toBe(top);
    const mid = write(join(dir, 'a', 'b', CONFIG_FILE), {});
    expect(findConfig(deep)).toBe(mid);
  });

  it('returns undefined when there is none up to /', () => {
    const found = findConfig(dir);
    // A file above the temporary directory would be someone else's; only ours matter here.
    expect(found === undefined || !found.startsWith(dir)).toBe(true);
  });
});

describe('loadConfig', () => {
  it('reads preset, parameters, ops and policy, resolving relative paths against its directory', () => {
    const file = write(join(dir, 'proj', CONFIG_FILE), {
      $schema: './node_modules/sandboxctl/schema/config.schema.json',
      preset: 'build',
      inputs: ['src', '/opt/sdk'],
      output: 'dist',
      allowEnv: ['NPM_TOKEN'],
      ops: [
        { kind: 'bind', source: '../cache', target: '/cache', writable: true },
        { kind: 'symlink', target: 'link', linkname: 'relative/stays' },
      ],
      network: 'host',
      cwd: 'src',
      env: { set: { A: '1' } },
    });
    const config = loadConfig(file);
    const proj = join(dir, 'proj');
    expect(config).toEqual({
      file,
      preset: 'build',
      allowEnv: ['NPM_TOKEN'],
      inputs: [join(proj, 'src'), '/opt/sdk'],
      output: join(proj, 'dist'),
      layer: {
        ops: [
          { kind: 'bind', source: join(dir, 'cache'), target: '/cache', writable: true },
          { kind: 'symlink', target: join(proj, 'link'), linkname: 'relative/stays' },
        ],
        network: 'host',
        cwd: join(proj, 'src'),
        env: { set: { A: '1' } },
      },
    });
  });

  it('treats an empty file as an empty config', () => {
    expect(loadConfig(write(join(dir, CONFIG_FILE), ''))).toEqual({ file: join(dir, CONFIG_FILE), allowEnv: [], layer: {} });
  });

  it.each([
    [{ presets: 'agent' }, 'presets', /unknown field "presets"; known: \$schema, preset/],
    [{ preset: 'agnet' }, 'preset', /expected one of "strict", "ro-host", "agent", "build", got "agnet"/],
    [{ ops: [{ kind: 'proc', target: '/proc' }, { kind: 'bnid', target: '/x' }] }, 'ops[1].kind', /unknown kind "bnid"; known: bind, proc/],
    [{ ops: [{ kind: 'tmpfs', target: 3 }] }, 'ops[0].target', /expected string, got 3/],
    [{ ops: [{ kind: 'tmpfs', target: '/t', mode: -1 }] }, 'ops[0].mode', /must be at least 0, got -1/],
    [{ ops: [{ kind: 'bind', source: '/a' }] }, 'ops[0]', /target is required/],
    [{ ops: [{ kind: 'dir', target: '/d', extra: true }] }, 'ops[0].extra', /unknown field "extra"/],
    [{ network: 'internet' }, 'network', /expected one of "none", "host", got "internet"/],
    [{ lingerMs: 1.5 }, 'lingerMs', /expected integer, got 1.5/],
    [{ env: { set: { A: 1 } } }, 'env.set.A', /expected string, got 1/],
    [{ argv: ['sh'] }, 'argv', /unknown field "argv"/],
    [[], '', /expected object, got an array/],
  ])('rejects %j at %s', (value, path, message) => {
    const file = write(join(dir, CONFIG_FILE), value);
    const error = configError(file);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${file}: ${path ? `${path}: ` : ''}`)).toBe(true);
    if (path) expect(error.path).toBe(path);
  });

  it('names the line and column of a JSON syntax error', () => {
    const file = write(join(dir, CONFIG_FILE), '{\n  "preset": "agent",\n  "ops": [}\n}\n');
    expect(configError(file).message).toMatch(new RegExp(`^${file}: not valid JSON: .* at line 3, column 11$`));
  });

  it('says when the file is missing or a directory', () => {
    expect(configError(join(dir, 'nope.json')).message).toBe(`${join(dir, 'nope.json')}: no such file`);
    expect(configError(dir).message).toBe(`${dir}: is a directory`);
  });

  it('refuses a discovered file that others may write, but not one named explicitly', () => {
    const file = write(join(dir, CONFIG_FILE), { preset: 'agent' }, 0o666);
    expect(configError(file, { discovered: true }).message).toBe(`${file}: writable by anyone (mode 0666)`);
    chmodSync(file, 0o664);
    expect(configError(file, { discovered: true }).message).toBe(`${file}: writable by its group (mode 0664)`);
    expect(loadConfig(file).preset).toBe('agent');
  });
});

describe('checkConfig', () => {
  it('checks integer bounds and takes null only where the plan does', () => {
    expect(checkConfig({ lingerMs: 4294967296 })).toEqual({ path: 'lingerMs', message: 'must be at most 4294967295, got 4294967296' });
    expect(checkConfig({ uid: 7, cwd: null, network: 'host' })).toBeNull();
    expect(checkConfig({ network: null })).toEqual({ path: 'network', message: 'expected one of "none", "host", got null' });
    expect(checkConfig({ output: null })).toEqual({ path: 'output', message: 'expected string, got null' });
  });

  it('explains enum failures and names keys that are not identifiers', () => {
    expect(checkConfig({ network: 3 })).toEqual({ path: 'network', message: 'expected one of "none", "host", got 3' });
    expect(checkConfig({ env: { set: { 'MY-VAR': 1 } } })).toEqual({ path: 'env.set["MY-VAR"]', message: 'expected string, got 1' });
  });

  it('refuses an array where an object goes, as the JSON Schema does', () => {
    expect(checkConfig({ env: [true] })).toEqual({ path: 'env', message: 'expected object, got an array' });
  });

  it('finds the field at fault inside an op', () => {
    expect(checkConfig({ ops: [{ kind: 'overlay', target: '/o', lowers: ['/a', 7] }] })).toEqual({ path: 'ops[0].lowers[1]', message: 'expected string, got 7' });
    expect(checkConfig({ ops: [{ target: '/d' }] })?.path).toBe('ops[0].kind');
  });
});
