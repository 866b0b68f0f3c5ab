/**
 * Servers for the network suite, on the host's loopback only (127.0.0.1,
 * ports the kernel picks): what the sandbox's proxy dials. Each counts the
 * connections it accepted, so a test can tell that a refused request never
 * reached it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  connections: () => number;
  /** Request lines seen, `GET /path`. */
  requests: string[];
  close: () => Promise<void>;
}

/** An HTTP server on 127.0.0.1 with `handler`; counts connections. */
export function serve(handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<TestServer> {
  const requests: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (s: Socket) => {
    connections += 1;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolveServer) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolveServer({
        port,
        connections: () => connections,
        requests,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Plain text at every path: `hello from PATH`. */
export function hello(): Promise<TestServer> {
  return serve((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${req.url}\n`);
  });
}

/** A wheel `demo-1.0-py3-none-any.whl` (made with python3's zipfile) and its PEP 503 simple index. */
export function pypi(dir: string): Promise<TestServer> {
  const wheel = join(dir, 'demo-1.0-py3-none-any.whl');
  const py = [
    'import zipfile, sys',
    'z = zipfile.ZipFile(sys.argv[1], "w")',
    'z.writestr("demo/__init__.py", "")',
    'z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n")',
    'z.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
    'z.writestr("demo-1.0.dist-info/RECORD", "")',
    'z.close()',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', py, wheel], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot make the test wheel: ${r.stderr}`);
  const data = readFileSync(wheel);
  return serve((req, res) => {
    if (req.url === '/simple/demo/' || req.url === '/simple/demo') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><body><a href="/files/demo-1.0-py3-none-any.whl">demo-1.0-py3-none-any.whl</a></body></html>\n');
    } else if (req.url === '/files/demo-1.0-py3-none-any.whl') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
      res.end(data);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

/** An npm registry with one package, `sbx-demo@1.2.3`. */
export function npmRegistry(): Promise<TestServer> {
  let port = 0;
  const s = serve((req, res) => {
    if (req.url === '/sbx-demo') {
      const doc = {
        _id: 'sbx-demo',
        name: 'sbx-demo',
        'dist-tags': { latest: '1.2.3' },
        versions: { '1.2.3': { name: 'sbx-demo', version: '1.2.3', dist: { tarball: `http://127.0.0.1:${port}/sbx-demo/-/sbx-demo-1.2.3.tgz`, shasum: '0'.repeat(40) } } },
        time: { '1.2.3': '2026-01-01T00:00:00.000Z' },
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  return s.then((srv) => {
    port = srv.port;
    return srv;
  });
}

/** `git http-backend` as a CGI program: smart HTTP for the repositories under `root`. */
export function gitServer(root: string): Promise<TestServer> {
  return serve((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method,
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      CONTENT_LENGTH: String(body.length),
      REMOTE_ADDR: '127.0.0.1',
      GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
    };
    const cgi = spawn('git', ['http-backend'], { env });
    const out: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => out.push(c));
    cgi.stdin.end(body);
    cgi.on('close', () => {
      const all = Buffer.concat(out);
      const split = all.indexOf('\r\n\r\n') >= 0 ? all.indexOf('\r\n\r\n') : all.indexOf('\n\n');
      const sep = all.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
      const head = all.subarray(0, split).toString('utf8');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(all.subarray(split + sep));
    });
  });
}

/** A bare repository `demo.git` with one commit on `main`, under `root`. */
export function gitRepo(root: string): string {
  const work = join(root, 'work');
  mkdirSync(work, { recursive: true });
  const git = (args: string[], cwd: string): string => {
    const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', HOME: root } });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  git(['init', '-q', '-b', 'main', '.'], work);
  writeFileSync(join(work, 'f'), 'x\n');
  git(['add', 'f'], work);
  git(['commit', '-qm', 'one'], work);
  git(['clone', '-q', '--bare', work, join(root, 'demo.git')], root);
  return git(['rev-parse', 'HEAD'], work);
}
