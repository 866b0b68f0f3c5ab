/**
 * The network allow list (issue 14), through real sandboxes: the program
 * reaches allowed hosts only through the sandbox's proxy (HTTP 127.0.0.1:3128,
 * SOCKS5 :1080, served from the host's namespace by the launcher's proxy
 * process), with the tools people use (curl, busybox wget, Node, pip, npm,
 * git); everything else is refused with a 403 / SOCKS failure and a report
 * line, and a program that ignores the proxy variables cannot connect at all.
 * Servers are the test's own, on 127.0.0.1 ports the kernel picks; the proxy
 * reaches loopback only because the tests allow those literals.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlanBuilder, run } from '@sandboxctl/core';
import { BASE, cli, INIT, requireKernel, type Ran } from '../helpers';
import { gitRepo, gitServer, hello, npmRegistry, pypi, serve, type TestServer } from './servers';

let dir: string;
let web: TestServer;
let other: TestServer;

beforeAll(async () => {
  requireKernel();
  dir = mkdtempSync(join(tmpdir(), 'sbx-net-'));
  web = await hello();
  other = await hello();
});
afterAll(async () => {
  await web.close();
  await other.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `sandboxctl run BASE… FLAGS -- sh -c SCRIPT`. */
function net(flags: string[], script: string): Promise<Ran> {
  return cli(['run', ...BASE, ...flags, '--', '/bin/sh', '-c', script]);
}

let reports = 0;
function reportFile(): string {
  reports += 1;
  return join(dir, `report-${reports}.jsonl`);
}
function readReport(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const allowWeb = (): string[] => ['--allow-host', `127.0.0.1:${web.port}`];

describe('allowed hosts are reached through the proxy', () => {
  test('curl: a plain GET goes out in origin form; a CONNECT tunnel works', async () => {
    const r = await net(allowWeb(), `curl -sS http://127.0.0.1:${web.port}/curl && curl -sS -p http://127.0.0.1:${web.port}/tunnel`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from /curl\nhello from /tunnel\n');
    expect(web.requests).toContain('GET /curl');
    expect(web.requests).toContain('GET /tunnel');
    expect(r.code).toBe(0);
  }, 30000);

  test('the proxy variables are set as srt and Codex set them', async () => {
    const r = await net(allowWeb(), 'env | grep -iE "^(https?|all|no)_proxy=|^npm_config_(https_)?proxy=|^PIP_PROXY=" | sort');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'ALL_PROXY=socks5h://127.0.0.1:1080',
        'HTTPS_PROXY=http://127.0.0.1:3128',
        'HTTP_PROXY=http://127.0.0.1:3128',
        'PIP_PROXY=http://127.0.0.1:3128',
        'all_proxy=socks5h://127.0.0.1:1080',
        'http_proxy=http://127.0.0.1:3128',
        'https_proxy=http://127.0.0.1:3128',
        'npm_config_https_proxy=http://127.0.0.1:3128',
        'npm_config_proxy=http://127.0.0.1:3128',
        '',
      ].join('\n'),
    );
  }, 30000);

  test('SOCKS5 (curl --socks5-hostname, ALL_PROXY) to an allowed address', async () => {
    const r = await net(allowWeb(), `curl -sS --socks5-hostname 127.0.0.1:1080 http://127.0.0.1:${web.port}/socks`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from /socks\n');
  }, 30000);

  test('busybox wget', async () => {
    const r = await net(allowWeb(), `busybox wget -q -O - http://127.0.0.1:${web.port}/wget`);
    expect(r.stdout).toBe('hello from /wget\n');
    expect(r.code).toBe(0);
  }, 30000);

  test("Node 20: fetch() ignores the proxy variables and so cannot connect (fail closed); http.request through the proxy works", async () => {
    // Node 20's fetch (undici) reads no *_PROXY variable and has no --use-env-proxy
    // (Node 24 adds NODE_USE_ENV_PROXY): it connects directly, which the sandbox refuses.
    const before = web.connections();
    const js = [
      `const http = require('node:http');`,
      `fetch('http://127.0.0.1:${web.port}/fetch').then(() => console.log('fetch: reached'), (e) => console.log('fetch: ' + (e.cause?.code ?? e.message)))`,
      `.then(() => http.get({ host: '127.0.0.1', port: 3128, path: 'http://127.0.0.1:${web.port}/node-http', headers: { host: '127.0.0.1:${web.port}' } }, (res) => { let b = ''; res.on('data', (d) => (b += d)); res.on('end', () => console.log('http: ' + res.statusCode + ' ' + b.trim())); }));`,
    ].join('\n');
    const r = await net(allowWeb(), `node -e "$JS"`.replace('$JS', js.replace(/"/g, '\\"').replace(/\$/g, '\\$')));
    expect(r.stdout).toMatch(/^fetch: (EACCES|ECONNREFUSED|ENETUNREACH)\nhttp: 200 hello from \/node-http\n$/);
    expect(web.requests).not.toContain('GET /fetch');
    expect(web.connections()).toBe(before + 1);
  }, 30000);

  test('pip download from a local simple index', async () => {
    const idx = await pypi(dir);
    try {
      const r = await net(
        ['--allow-host', `127.0.0.1:${idx.port}`],
        `/usr/bin/python3 -m pip download -q --no-cache-dir --disable-pip-version-check --no-deps --index-url http://127.0.0.1:${idx.port}/simple/ -d /tmp/dl demo && ls /tmp/dl`,
      );
      expect(r.stdout).toBe('demo-1.0-py3-none-any.whl\n');
      expect(r.code).toBe(0);
      expect(idx.requests).toEqual(expect.arrayContaining(['GET /simple/demo/', 'GET /files/demo-1.0-py3-none-any.whl']));
    } finally {
      await idx.close();
    }
  }, 60000);

  test('npm view against a registry served by the test', async () => {
    const reg = await npmRegistry();
    try {
      const r = await net(
        ['--allow-host', `127.0.0.1:${reg.port}`, '--setenv', 'npm_config_cache', '/tmp/npm-cache', '--setenv', 'npm_config_update_notifier', 'false'],
        `npm view sbx-demo version --registry http://127.0.0.1:${reg.port}/`,
      );
      expect(r.stdout).toBe('1.2.3\n');
      expect(r.code).toBe(0);
      expect(reg.requests).toContain('GET /sbx-demo');
    } finally {
      await reg.close();
    }
  }, 60000);

  test('git ls-remote over smart HTTP (git http-backend)', async () => {
    const root = mkdtempSync(join(dir, 'git-'));
    const head = gitRepo(root);
    const srv = await gitServer(root);
    try {
      const r = await net(['--allow-host', `127.0.0.1:${srv.port}`, '--setenv', 'HOME', '/tmp'], `git ls-remote http://127.0.0.1:${srv.port}/demo.git`);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`${head}\tHEAD\n`);
      expect(r.stdout).toContain(`${head}\trefs/heads/main\n`);
      expect(r.code).toBe(0);
    } finally {
      await srv.close();
    }
  }, 60000);

  test('--preset agent with --allow-host, as the issue writes it', async () => {
    const r = await cli(['run', '--preset', 'agent', ...allowWeb(), '--', 'curl', '-sS', `http://127.0.0.1:${web.port}/agent`], { cwd: dir });
    expect(r.stdout).toBe('hello from /agent\n');
    expect(r.code).toBe(0);
  }, 30000);
});

describe('everything else is refused', () => {
  test('a port not allowed: 403 with X-Proxy-Error and why, a report line, and the server never sees it', async () => {
    const before = other.connections();
    const file = reportFile();
    const r = await net([...allowWeb(), '--report', file], `curl -sS -i http://127.0.0.1:${other.port}/nope; curl -sS -p http://127.0.0.1:${other.port}/tunnel; echo "curl=$?"`);
    expect(r.stdout).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(r.stdout).toContain('\r\nX-Proxy-Error: blocked-by-sandboxctl\r\n');
    expect(r.stdout).toContain(`blocked by the network policy: 127.0.0.1:${other.port} is not in the allow list`);
    expect(r.stdout).toMatch(/curl=56\n$/);
    expect(other.connections()).toBe(before);
    const lines = readReport(file);
    expect(lines).toEqual([
      { kind: 'network', host: '127.0.0.1', port: other.port, reason: `127.0.0.1:${other.port} is not in the allow list`, via: 'http' },
      { kind: 'network', host: '127.0.0.1', port: other.port, reason: `127.0.0.1:${other.port} is not in the allow list`, via: 'http' },
    ]);
  }, 30000);

  test('SOCKS5: rule failure (curl 97) and a report line on stderr with --report -', async () => {
    const r = await net([...allowWeb(), '--report', '-'], `curl -sS -x socks5h://127.0.0.1:1080 http://denied.example:${other.port}/; echo "curl=$?"`);
    expect(r.stdout).toBe('curl=97\n');
    expect(r.stderr).toContain("Can't complete SOCKS5 connection to denied.example. (2)");
    const line = r.stderr.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(line!)).toEqual({ kind: 'network', host: 'denied.example', port: other.port, reason: `denied.example:${other.port} is not in the allow list`, via: 'socks' });
  }, 30000);

  test('a deny rule wins over the allow rule, and names itself', async () => {
    const file = reportFile();
    const r = await net(['--allow-host', '127.0.0.1', '--deny-host', `127.0.0.1:${other.port}`, '--report', file], `curl -sS http://127.0.0.1:${other.port}/; curl -sS http://127.0.0.1:${web.port}/deny-ok`);
    expect(r.stdout).toContain(`denied by the rule 127.0.0.1:${other.port}`);
    expect(r.stdout).toContain('hello from /deny-ok\n');
    expect(readReport(file)).toEqual([expect.objectContaining({ rule: `127.0.0.1:${other.port}`, port: other.port })]);
  }, 30000);

  test('a name that resolves to loopback is refused unless the literal is allowed', async () => {
    const file = reportFile();
    const r = await net(['--allow-host', `localhost:${web.port}`, '--report', file], `curl -sS http://localhost:${web.port}/name`);
    expect(r.stdout).toContain(`localhost resolves to 127.0.0.1 (loopback), which is refused unless that address is allowed as a literal`);
    expect(web.requests).not.toContain('GET /name');
    expect(readReport(file)).toEqual([expect.objectContaining({ host: 'localhost', rule: `localhost:${web.port}` })]);
    const ok = await net(['--allow-host', `localhost:${web.port}`, ...allowWeb()], `curl -sS http://localhost:${web.port}/name-literal`);
    expect(ok.stdout).toBe('hello from /name-literal\n');
  }, 30000);

  test('plain HTTP keep-alive: URLs in one curl share one upstream connection; another host on the same proxy connection is checked anew', async () => {
    const file = reportFile();
    const before = web.connections();
    const u = (port: number, p: string): string => `http://127.0.0.1:${port}/${p}`;
    const r = await net(
      [...allowWeb(), '--report', file],
      `curl -sS ${u(web.port, 'ka1')} ${u(web.port, 'ka2')} ${u(web.port, 'ka3')}; curl -sS -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\\n' ${u(web.port, 'ka4')} ${u(other.port, 'ka5')}`,
    );
    expect(r.stdout).toBe('hello from /ka1\nhello from /ka2\nhello from /ka3\n200 1\n403 0\n');
    expect(web.connections() - before).toBe(2);
    expect(other.requests).not.toContain('GET /ka5');
    expect(readReport(file)).toEqual([expect.objectContaining({ host: '127.0.0.1', port: other.port, via: 'http' })]);
  }, 30000);

  test('uploads (counted and chunked) reach the server whole, and the Host header is the URL\'s, whatever the program sends', async () => {
    const echo = await serve((req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.headers.host} ${req.headers['transfer-encoding'] ?? 'length'} ${body.length} ${body.subarray(0, 3).toString()}\n`);
    });
    try {
      const u = `http://127.0.0.1:${echo.port}/up`;
      const r = await net(
        ['--allow-host', `127.0.0.1:${echo.port}`],
        `head -c 3000000 /dev/zero | tr '\\0' x > /tmp/f; curl -sS -H 'Host: evil.example' ${u}; curl -sS --data-binary @/tmp/f ${u}; curl -sS -T - ${u} < /tmp/f`,
      );
      const host = `127.0.0.1:${echo.port}`;
      expect([r.stderr, r.stdout]).toEqual(['', `${host} length 0 \n${host} length 3000000 xxx\n${host} chunked 3000000 xxx\n`]);
    } finally {
      await echo.close();
    }
  }, 30000);

  test('an empty allow list (library: network { allow: [] }) refuses everything, and result.denials says so', async () => {
    const ops = new PlanBuilder().roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').ops;
    const r = await run({ argv: ['/bin/sh', '-c', `curl -sS http://127.0.0.1:${web.port}/empty; curl -sS --socks5-hostname 127.0.0.1:1080 http://x.org/; echo "curl=$?"`], ops, network: { allow: [] }, report: true, stdio: 'pipe' });
    expect(r.stdout).toContain('the allow list is empty: no network');
    expect(r.stdout).toMatch(/curl=97\n$/);
    expect(r.denials).toEqual([
      { kind: 'network', host: '127.0.0.1', port: web.port, reason: 'the allow list is empty: no network', via: 'http' },
      { kind: 'network', host: 'x.org', port: 80, reason: 'the allow list is empty: no network', via: 'socks' },
    ]);
  }, 30000);

  test('an onDenial callback that throws (or rejects) neither crashes the run nor loses the result, and its errors are in the result', async () => {
    const ops = new PlanBuilder().roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').ops;
    const calls: string[] = [];
    const argv = ['/bin/sh', '-c', `for p in a b c; do curl -sS -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:${other.port}/$p; done; echo after`];
    const r = await run({
      argv,
      ops,
      network: { allow: [`127.0.0.1:${web.port}`] },
      report: true,
      stdio: 'pipe',
      onDenial: (d) => {
        calls.push(d.kind);
        if (calls.length === 1) throw new Error('a caller bug');
        if (calls.length === 2) return Promise.reject(new Error('an async caller bug')) as never;
      },
    });
    expect([r.code, r.stdout]).toEqual([0, '403\n403\n403\nafter\n']);
    expect(calls).toEqual(['network', 'network', 'network']);
    expect(r.denials).toHaveLength(3);
    expect(r.denials.every((d) => d.kind === 'network' && d.port === other.port)).toBe(true);
    expect((r.onDenialErrors ?? []).map((e) => (e as Error).message)).toEqual(['a caller bug', 'an async caller bug']);
  }, 30000);

  test('without report: true, the result has no denials', async () => {
    const ops = new PlanBuilder().roBind('/', '/').proc('/proc').dev('/dev').tmpfs('/tmp').ops;
    const r = await run({ argv: ['curl', '-sS', `http://127.0.0.1:${other.port}/`], ops, network: { allow: [`127.0.0.1:${web.port}`] }, stdio: 'pipe' });
    expect(r.stdout).toContain('blocked by the network policy');
    expect(r.denials).toEqual([]);
  }, 30000);

  test('past the proxy: direct TCP (v4 and v6), UDP and raw sockets all fail, and nothing reaches the server', async () => {
    const before = web.connections();
    const py = [
      'import socket',
      'def t(name, f):',
      '    try:',
      '        f(); print(name, "ok")',
      '    except OSError as e:',
      '        print(name, "refused", e.errno)',
      `t("tcp4", lambda: socket.create_connection(("127.0.0.1", ${web.port}), 3))`,
      `t("tcp6", lambda: socket.create_connection(("::1", ${web.port}), 3))`,
      't("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53)))',
      't("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))',
      't("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))',
      't("bind", lambda: socket.socket().bind(("127.0.0.1", 8000)))',
    ].join('\n');
    const r = await net(allowWeb(), `/usr/bin/python3 -c '${py}'`);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    for (const l of lines) expect(l).toMatch(/^\w+ refused \d+$/);
    // Landlock (ABI 4+, this kernel has 7): connect to anything but the proxy's ports, and bind, are EACCES.
    expect(lines[0]).toBe('tcp4 refused 13');
    expect(lines[5]).toBe('bind refused 13');
    expect(web.connections()).toBe(before);
  }, 30000);

  test('--allow-local-binding: the program may serve on its own loopback and reach it directly (NO_PROXY)', async () => {
    const py = 'import socket,threading\ns=socket.socket(); s.bind(("127.0.0.1", 8000)); s.listen()\ndef srv():\n    c,_=s.accept(); c.recv(100); c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nlocal\\n"); c.close()\nthreading.Thread(target=srv).start()\nimport subprocess; subprocess.run(["curl","-sS","http://127.0.0.1:8000/"])';
    const r = await net([...allowWeb(), '--allow-local-binding'], `/usr/bin/python3 -c '${py}'; echo "no_proxy=$no_proxy"`);
    expect(r.stdout).toBe('local\nno_proxy=localhost,127.0.0.1,::1\n');
  }, 30000);
});

describe('bad rules are refused before anything starts', () => {
  test.each([
    ['--allow-host', 'https://registry.npmjs.org', 'scheme'],
    ['--allow-host', 'registry.npmjs.org/path', 'path'],
    ['--allow-host', '*', 'bare `*`'],
    ['--allow-host', '*.com', 'public-suffix'],
    ['--allow-host', '*.co.uk', 'public-suffix'],
    ['--allow-host', '2001:db8::1', 'brackets'],
    ['--deny-host', 'http://x.org', 'scheme'],
    ['--allow-hosts', 'npm,nope', 'unknown host set "nope"'],
  ])('%s %s', async (flag, value, why) => {
    const r = await cli(['run', ...BASE, flag, value, '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_PLAN_INVALID');
    expect(r.stderr).toContain(`${flag} ${value}`);
    expect(r.stderr).toContain(why);
  }, 30000);

  test('a config file entry: named by its JSON path', async () => {
    const proj = mkdtempSync(join(dir, 'cfg-'));
    writeFileSync(join(proj, 'sandboxctl.json'), JSON.stringify({ network: { allow: ['ok.example.org', '*.com'] } }));
    const r = await cli(['run', '--config', join(proj, 'sandboxctl.json'), ...BASE, '--', '/bin/true'], { cwd: proj });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('E_PLAN_INVALID');
    expect(r.stderr).toContain('network.allow[1]');
    expect(r.stderr).toContain('"*.com"');
  }, 30000);

  test('--share-net with an allow list is a usage error', async () => {
    const r = await cli(['run', ...BASE, '--share-net', ...allowWeb(), '--', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('--share-net and --allow-host exclude each other');
  }, 30000);

  test('explain shows the policy', async () => {
    const r = await cli(['explain', ...BASE, ...allowWeb(), '--allow-hosts', 'npm', '--deny-host', 'bad.example.org', '--', '/bin/true']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`only through the sandbox's proxy (HTTP 127.0.0.1:3128, SOCKS5 127.0.0.1:1080) to 127.0.0.1:${web.port}, npm (set)`);
    expect(r.stdout).toContain('refused first: bad.example.org');
  }, 30000);
});

describe('nothing of it on the host', () => {
  /** Listening TCP ports of the host's namespace (from /proc/net/tcp{,6}). */
  function listening(): Set<number> {
    const out = new Set<number>();
    for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[3] === '0A') out.add(Number.parseInt(cols[1]!.split(':').pop()!, 16));
      }
    }
    return out;
  }

  test('no host port is opened while the sandbox runs; no process is left after it; a host tool runs as before', async () => {
    const before = listening();
    const probe = cli(['run', ...BASE, ...allowWeb(), '--', '/bin/sh', '-c', 'sleep 1.5']);
    await new Promise((r) => setTimeout(r, 1000));
    const during = listening();
    const added = [...during].filter((p) => !before.has(p));
    expect(added.filter((p) => p === 3128 || p === 1080)).toEqual([]);
    expect((await probe).code).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    // No launcher or proxy of this checkout's sandboxctl-init survives its run.
    const left = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith(INIT) && readFileSync(`/proc/${p}/status`, 'utf8').includes(`\nUid:\t${process.getuid!()}\t`);
        } catch {
          return false;
        }
      });
    expect(left).toEqual([]);
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
  }, 30000);
});
