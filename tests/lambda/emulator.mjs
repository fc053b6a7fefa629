// A local stand-in for AWS Lambda behind an API Gateway HTTP API, for the integration tests
// (tests/support/fronts/lambda_front.h). Node's own http module; no packages. Real HTTP on 127.0.0.1:
//
//  - the "gateway" port: HTTP requests → payload format 2.0 events, routed by path to a function
//    (first matching regex on the raw path, as infra/lighttpd/credbroker.conf routes), answered
//    from the function's payload 2.0 response. 502 when the function fails, 503 when it times out.
//    Also Lambda's Invoke API, POST /2015-03-31/functions/<name>/invocations, which hands a raw
//    event to a function and returns its raw payload (X-Amz-Function-Error set on a failure), so
//    tests can send events API Gateway would not (payload 1.0, malformed ones).
//  - the Runtime API (the handler processes get AWS_LAMBDA_RUNTIME_API):
//    GET  /2018-06-01/runtime/invocation/next           long poll, one event per caller
//    POST /2018-06-01/runtime/invocation/<id>/response  202
//    POST /2018-06-01/runtime/invocation/<id>/error     202, recorded
//    POST /2018-06-01/runtime/init/error                202, recorded; fails the queued events
//  - the execution environments, when a function names its command: the emulator starts `count`
//    handler processes, each with a Runtime API port of its own (so it knows which process holds
//    which invocation). A process that exits while it holds an invocation (killed, crashed,
//    exited) fails that invocation at once as Lambda does (Runtime.ExitError: the gateway answers
//    502 {"message":"Internal Server Error"}, the Invoke API the error payload), and the next
//    invocation of the function starts a fresh process in its place. A function given as a bare
//    port number gets one shared Runtime API port and processes started by someone else.
//
// Calls to the error endpoints are appended to record_file (one JSON object a line); each start
// and exit of a process the emulator runs to process_file, as {"function", "index", "pid",
// "event": "start"} and {..., "event": "exit", "status": <wait status: code << 8, or the signal>}.
// rawPath is percent-DECODED as HTTP APIs are reported to do (docs/deploy/lambda.md), unless
// decode_raw_path is false. Everything is bounded: bodies, queues, waiters, invocation time.
//
// Usage: node emulator.mjs CONFIG.json, where CONFIG is
//   {"gateway_port": 8080,
//    "functions": {"list": {"count": 2, "command": ["/path/credbroker-list"], "env": {...},
//                           "log_prefix": "/tmp/.../handler-list-"}, "health": 9001, ...},
//    "process_file": "/tmp/.../processes.jsonl",
//    "routes": [["^/api/v1/healthz$", "health"], ...], "invoke_timeout_ms": 30000,
//    "record_file": "/tmp/.../runtime-errors.jsonl", "decode_raw_path": true}

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';

const MAX_BODY_BYTES = 6 * 1024 * 1024; // Lambda's synchronous payload limit
const MAX_QUEUED = 128; // events waiting for a free handler process, per function
const MAX_WAITERS = 64; // handler processes polling /next, per function
const API = '/2018-06-01/runtime/';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const invokeTimeoutMs = config.invoke_timeout_ms ?? 30000;
const routes = config.routes.map(([pattern, fn]) => [new RegExp(pattern), fn]);

function log(event, fields = {}) {
  process.stderr.write(JSON.stringify({ component: 'lambda-emulator', event, ...fields }) + '\n');
}

function record(fields) {
  fs.appendFileSync(config.record_file, JSON.stringify(fields) + '\n');
}

function recordProcess(fields) {
  if (config.process_file) fs.appendFileSync(config.process_file, JSON.stringify(fields) + '\n');
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Reads a request body up to MAX_BODY_BYTES; resolves null when it is larger. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res, status, body, headers = {}) {
  if (res.writableEnded || res.destroyed) return;
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(data);
}

/** One function: its queue of events and the handler processes polling for them. */
class LambdaFunction {
  constructor(name) {
    this.name = name;
    this.queue = []; // invocations not yet handed out
    this.waiters = []; // responses of pending GET /next
    this.inflight = new Map(); // request id → invocation handed out
    this.initError = null; // body of the last init/error, until a process polls again
    this.environments = []; // the processes the emulator runs for this function (Environment)
  }

  /** Starts a fresh process in every environment whose process has exited (Lambda's cold start
   *  for the next invocation). */
  replenish() {
    for (const env of this.environments) {
      if (env.child === null) env.start();
    }
  }

  /** Resolves {kind: 'response'|'error'|'exited'|'timeout'|'throttled', body}. */
  invoke(eventText) {
    this.replenish();
    return new Promise((resolve) => {
      if (this.initError !== null && this.waiters.length === 0) {
        resolve({ kind: 'error', body: this.initError });
        return;
      }
      if (this.queue.length >= MAX_QUEUED) {
        resolve({ kind: 'throttled' });
        return;
      }
      const inv = { id: crypto.randomUUID(), event: eventText, resolve };
      inv.timer = setTimeout(() => this.finish(inv.id, { kind: 'timeout' }), invokeTimeoutMs);
      this.queue.push(inv);
      this.pump();
    });
  }

  finish(id, result) {
    let inv = this.inflight.get(id);
    if (inv) {
      this.inflight.delete(id);
      if (inv.env && inv.env.holding === id) inv.env.holding = null;
    } else {
      const i = this.queue.findIndex((q) => q.id === id);
      if (i < 0) return false;
      inv = this.queue.splice(i, 1)[0];
    }
    clearTimeout(inv.timer);
    inv.resolve(result);
    return true;
  }

  pump() {
    while (this.queue.length > 0 && this.waiters.length > 0) {
      const { res, env, child } = this.waiters.shift();
      if (res.destroyed || res.writableEnded) continue;
      if (env && (env.child === null || env.child !== child)) continue; // its process has exited
      const inv = this.queue.shift();
      this.inflight.set(inv.id, inv);
      if (env) {
        inv.env = env;
        env.holding = inv.id;
      }
      res.writeHead(200, {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': inv.id,
        'lambda-runtime-deadline-ms': String(Date.now() + invokeTimeoutMs),
        'lambda-runtime-invoked-function-arn': `arn:aws:lambda:local:000000000000:function:${this.name}`,
        'lambda-runtime-trace-id': `Root=1-00000000-${inv.id.replaceAll('-', '').slice(0, 24)}`,
      });
      res.end(inv.event);
    }
  }

  /** `env`: the environment whose own port the request came to; null on the shared port. */
  async serveRuntimeApi(req, res, env = null) {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${API}invocation/next`) {
      if (this.waiters.length >= MAX_WAITERS) {
        send(res, 429, { errorMessage: 'too many pollers', errorType: 'TooManyRequests' });
        return;
      }
      this.initError = null; // a (new) process is ready
      if (env) env.polled = true;
      const waiter = { res, env, child: env?.child ?? null };
      this.waiters.push(waiter);
      res.on('close', () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      });
      this.pump();
      return;
    }
    if (req.method !== 'POST') {
      send(res, 404, { errorMessage: 'not found', errorType: 'NotFound' });
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      send(res, 413, { errorMessage: 'payload too large', errorType: 'RequestEntityTooLarge' });
      return;
    }
    const text = body.toString('utf8');
    const errorType = req.headers['lambda-runtime-function-error-type'] ?? '';
    if (url === `${API}init/error`) {
      record({ function: this.name, call: 'init/error', error_type: errorType, body: parseJson(text) ?? text });
      this.initError = text;
      for (const inv of [...this.queue]) this.finish(inv.id, { kind: 'error', body: text });
      send(res, 202, { status: 'OK' });
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (!m) {
      send(res, 404, { errorMessage: 'not found', errorType: 'NotFound' });
      return;
    }
    const [, id, what] = m;
    if (what === 'error') {
      record({ function: this.name, call: 'invocation/error', error_type: errorType, body: parseJson(text) ?? text });
    }
    if (!this.finish(id, { kind: what, body: text })) {
      send(res, 400, { errorMessage: 'unknown request id', errorType: 'InvalidRequestID' });
      return;
    }
    send(res, 202, { status: 'OK' });
  }
}

/** Wait status as waitpid(2) reports it: the exit code shifted left by 8, or the signal number. */
function waitStatus(code, signal) {
  if (signal) return os.constants.signals[signal] ?? 0;
  return (code ?? 0) << 8;
}

/** One execution environment: a handler process on a Runtime API port of its own. */
class Environment {
  constructor(fn, index, spec) {
    this.fn = fn;
    this.index = index;
    this.spec = spec;
    this.port = 0;
    this.child = null; // the running process, null once it has exited
    this.holding = null; // the request id of the invocation it was handed
    this.polled = false; // whether its process has asked for an event yet
  }

  async listen() {
    const server = http.createServer(guard((req, res) => this.fn.serveRuntimeApi(req, res, this)));
    server.keepAliveTimeout = 0; // a handler keeps its connection between events
    server.requestTimeout = 0; // GET /next waits as long as there is no event
    await listen(server, 0);
    this.port = server.address().port;
  }

  start() {
    const prefix = `${this.spec.log_prefix}${this.index}`;
    const out = fs.openSync(`${prefix}.stdout`, 'a');
    const err = fs.openSync(`${prefix}.log`, 'a');
    const child = spawn(this.spec.command[0], this.spec.command.slice(1), {
      env: { ...process.env, ...(this.spec.env ?? {}), AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${this.port}` },
      stdio: ['ignore', out, err],
    });
    fs.closeSync(out);
    fs.closeSync(err);
    this.child = child;
    this.polled = false;
    const where = { function: this.fn.name, index: this.index, pid: child.pid };
    child.on('error', (e) => {
      log('spawn_failed', { ...where, message: String(e) });
      if (this.child === child && child.pid === undefined) this.child = null; // the next invocation tries again
    });
    child.on('exit', (code, signal) => {
      recordProcess({ ...where, event: 'exit', status: waitStatus(code, signal) });
      if (this.child === child) this.child = null;
      const id = this.holding;
      if (id !== null) {
        // What Lambda reports when the runtime dies during an invocation.
        const how = signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`;
        log('runtime_exited', { ...where, request_id: id, how });
        this.fn.finish(id, {
          kind: 'exited',
          body: JSON.stringify({
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${id} Error: Runtime exited with error: ${how}`,
          }),
        });
      }
      // An invocation that came in while the death went unnoticed waits for a process: start it
      // now. Only after a process that got as far as polling (no loop on one that dies at start;
      // after an init error the queue is empty anyway: its events failed with it).
      if (this.child === null && this.polled && this.fn.queue.length > 0) this.start();
    });
    recordProcess({ ...where, event: 'start' });
  }
}

const functions = new Map(Object.keys(config.functions).map((name) => [name, new LambdaFunction(name)]));
const environments = [];

// ---------------------------------------------------------------------------------------------
// The gateway side

function isText(contentType) {
  if (!contentType) return true;
  return /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))/i.test(contentType);
}

function decodeRawPath(path) {
  if (config.decode_raw_path === false) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // malformed escapes ("%zz") pass as they came
  }
}

/** A payload 2.0 event as an HTTP API builds it. */
function buildEvent(req, rawPath, rawQuery, body, routeKey) {
  const headers = Object.create(null);
  const cookies = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((c) => c.trim()).filter((c) => c.length > 0));
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const text = isText(headers['content-type']);
  const now = new Date();
  const event = {
    version: '2.0',
    routeKey,
    rawPath: decodeRawPath(rawPath),
    rawQueryString: rawQuery,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: req.method,
        path: decodeRawPath(rawPath),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: crypto.randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !text,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (body.length > 0) event.body = text ? body.toString('utf8') : body.toString('base64');
  return JSON.stringify(event);
}

/** The HTTP answer for a function's payload 2.0 response (API Gateway's rules). */
function answerFromPayload(res, payload) {
  const out = parseJson(payload);
  if (out === undefined) {
    send(res, 502, { message: 'Bad Gateway', cause: 'malformed function response' });
    return;
  }
  if (out === null || typeof out !== 'object' || typeof out.statusCode !== 'number') {
    // Without statusCode, an HTTP API answers 200 with the payload as a JSON body.
    send(res, 200, payload);
    return;
  }
  const headers = Object.create(null);
  for (const [k, v] of Object.entries(out.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (Array.isArray(out.cookies) && out.cookies.length > 0) headers['set-cookie'] = out.cookies.map(String);
  const body = typeof out.body === 'string' ? out.body : '';
  const bytes = out.isBase64Encoded === true ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (res.writableEnded || res.destroyed) return;
  try {
    res.writeHead(out.statusCode, headers);
  } catch {
    send(res, 502, { message: 'Bad Gateway', cause: 'malformed function response' });
    return;
  }
  res.end(bytes);
}

async function invokeDirect(res, name, req) {
  const fn = functions.get(name);
  if (!fn) {
    send(res, 404, { Message: `Function not found: ${name}`, Type: 'User' });
    return;
  }
  const body = await readBody(req);
  if (body === null) {
    send(res, 413, { Message: 'Request must be smaller than 6291456 bytes', Type: 'User' });
    return;
  }
  const result = await fn.invoke(body.toString('utf8'));
  if (result.kind === 'response') {
    send(res, 200, result.body);
  } else if (result.kind === 'error' || result.kind === 'exited') {
    send(res, 200, result.body, { 'x-amz-function-error': 'Unhandled' });
  } else if (result.kind === 'timeout') {
    send(res, 200, { errorMessage: 'Task timed out', errorType: 'Sandbox.Timedout' }, { 'x-amz-function-error': 'Unhandled' });
  } else {
    send(res, 429, { Message: 'Rate Exceeded.', Type: 'User' });
  }
}

async function serveGateway(req, res) {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);

  const direct = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(rawPath);
  if (direct && req.method === 'POST') {
    await invokeDirect(res, direct[1], req);
    return;
  }
  const route = routes.find(([re]) => re.test(rawPath));
  if (!route) {
    send(res, 404, { message: 'Not Found' });
    return;
  }
  const fn = functions.get(route[1]);
  const body = await readBody(req);
  if (body === null) {
    send(res, 413, { message: 'Request Entity Too Large' });
    return;
  }
  const result = await fn.invoke(buildEvent(req, rawPath, rawQuery, body, `ANY ${route[0].source}`));
  if (result.kind === 'response') {
    answerFromPayload(res, result.body);
  } else if (result.kind === 'error') {
    const error = parseJson(result.body);
    send(res, 502, { message: 'Bad Gateway', function_error: error?.errorType ?? 'Unknown' });
  } else if (result.kind === 'exited') {
    // API Gateway's answer when the function's runtime died during the invocation.
    send(res, 502, { message: 'Internal Server Error' });
  } else if (result.kind === 'timeout') {
    send(res, 503, { message: 'Service Unavailable' });
  } else {
    send(res, 429, { message: 'Too Many Requests' });
  }
}

function guard(handler) {
  return (req, res) => {
    handler(req, res).catch((e) => {
      log('internal_error', { message: String(e) });
      send(res, 500, { message: 'Internal Server Error' });
    });
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}

// Runtime API ports and processes first: the gateway port opening is the "ready" signal the test
// waits for.
for (const [name, spec] of Object.entries(config.functions)) {
  const fn = functions.get(name);
  if (typeof spec === 'number') {
    const server = http.createServer(guard((req, res) => fn.serveRuntimeApi(req, res)));
    server.keepAliveTimeout = 0; // a handler keeps its connection between events
    server.requestTimeout = 0; // GET /next waits as long as there is no event
    await listen(server, spec);
    continue;
  }
  for (let i = 0; i < spec.count; ++i) {
    const env = new Environment(fn, i, spec);
    await env.listen();
    env.start();
    fn.environments.push(env);
    environments.push(env);
  }
}
const gateway = http.createServer(guard(serveGateway));
await listen(gateway, config.gateway_port);
log('ready', { gateway_port: config.gateway_port });

/** Stops the processes it runs (SIGTERM, SIGKILL after 2 s), then itself. */
function shutdown() {
  const running = environments.map((e) => e.child).filter((c) => c !== null && c.exitCode === null && c.signalCode === null);
  if (running.length === 0) process.exit(0);
  let left = running.length;
  for (const c of running) {
    c.once('exit', () => {
      if (--left === 0) process.exit(0);
    });
    c.kill('SIGTERM');
  }
  setTimeout(() => {
    for (const c of running) c.kill('SIGKILL');
    setTimeout(() => process.exit(0), 500);
  }, 2000);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
