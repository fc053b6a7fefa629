// Slow check (make container-check; ctest label and configuration "slow"): replays the
// Dockerfile's two stages without a Docker engine, each in a chroot, and serves from the result.
//
//   FROM debian:bookworm(-slim) debootstrap --variant=minbase bookworm (what both official images
//                               are made from), cached as a tarball in CREDBROKER_REPLAY_CACHE
//   WORKDIR, RUN                chroot <root> /bin/sh -c 'cd <workdir> && <command>', stage ENV
//   COPY                        from the build context (the repo less .dockerignore)
//   COPY --from=build           from the replayed build stage's root (with
//                               CREDBROKER_REPLAY_HOST_BINARIES=1: from CREDBROKER_BIN_DIR, and
//                               the build stage is skipped — minutes faster)
//   ENV / USER / ENTRYPOINT / CMD / HEALTHCHECK
//                               recorded, then ENTRYPOINT + CMD run as USER (chroot --userspec)
// with a real redis-server on the host's loopback, a config and keyring file as an operator would
// mount them, and CREDBROKER_BIND/PORT moved to 127.0.0.1 and a free port. Then: health and list
// over HTTP, the HEALTHCHECK command, the user the processes run as, and what the image lacks.
//
// What a chroot is not: no namespaces, cgroups or overlay layers, and the host's kernel and
// network; `docker build` itself is not run (docs/deploy/docker.md).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync,
  readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { dockerignore, envPairs, execForm, parse } from './dockerfile_rules.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.CREDBROKER_SOURCE_DIR ?? resolve(here, '../..');
const binDir = process.env.CREDBROKER_BIN_DIR ?? join(src, 'build', 'bin');
const cacheDir = process.env.CREDBROKER_REPLAY_CACHE ?? join(tmpdir(), 'credbroker-replay-cache');

let failures = 0;
let passes = 0;
function check(ok, what, detail = '') {
  if (ok) passes++;
  else failures++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `\n     ${detail}` : ''}`);
}
const step = (what) => console.log(`---- ${what}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function mirror() {
  // The host's own Debian mirror (the one apt uses here), else the default.
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(f)) continue;
    const m = /(?:URIs:|deb)\s+(\S+\/debian)\s*$/m.exec(readFileSync(f, 'utf8'));
    if (m) return m[1];
  }
  return 'http://deb.debian.org/debian';
}

function baseTarball() {
  const tar = join(cacheDir, 'bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  mkdirSync(cacheDir, { recursive: true });
  const root = mkdtempSync(join(tmpdir(), 'credbroker-debootstrap-'));
  step(`debootstrap --variant=minbase bookworm (once; cached in ${tar})`);
  try {
    execFileSync('debootstrap', ['--variant=minbase', 'bookworm', root, mirror()], { stdio: ['ignore', 'ignore', 'inherit'] });
    chmodSync(root, 0o755);
    execFileSync('tar', ['-C', root, '-cf', `${tar}.part`, '.']);
    execFileSync('mv', [`${tar}.part`, tar]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return tar;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitForPort(port, ms) {
  for (let waited = 0; waited < ms; waited += 100) {
    const open = await new Promise((res) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); res(true); });
      c.once('error', () => res(false));
    });
    if (open) return true;
    await sleep(100);
  }
  return false;
}

async function get(port, path) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

/** Processes whose root directory is `root`: everything started inside the chroot. */
function processesIn(root) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readlinkSync(`/proc/${pid}/root`) === root) out.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

function mountsUnder(root) {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4]).filter((m) => m && (m === root || m.startsWith(`${root}/`)));
}

async function main() {
  if (process.getuid() !== 0) throw new Error('the replay needs root (debootstrap, chroot)');
  const parsed = parse(readFileSync(join(src, 'Dockerfile'), 'utf8'));
  const build = parsed.stages.find((s) => s.name === 'build');
  const final = parsed.stages.at(-1);
  if (build.image !== 'debian:bookworm' || final.image !== 'debian:bookworm-slim') {
    throw new Error(`FROM ${build.image} / ${final.image}: the replay knows debian:bookworm(-slim) only`);
  }
  const tar = baseTarball();
  const hostBinaries = process.env.CREDBROKER_REPLAY_HOST_BINARIES === '1';
  const buildRoot = hostBinaries ? null : newRoot(tar);
  const root = newRoot(tar);
  const started = [];
  let redis;
  try {
    let buildOutput = (path) => join(binDir, basename(path));
    if (buildRoot) {
      step(`replaying the build stage (FROM ${build.image}; the compile takes minutes)`);
      replayStage(build, buildRoot, ignoredByContext());
      buildOutput = (path) => join(buildRoot, path);
    } else {
      step(`CREDBROKER_REPLAY_HOST_BINARIES=1: the build stage is not replayed; handlers from ${binDir}`);
    }
    step(`replaying the runtime stage (FROM ${final.image})`);
    const { env, user, record } = replayStage(final, root, ignoredByContext(), buildOutput);
    step('the image as built');
    const has = (p) => existsSync(join(root, p));
    check(!has('tmp/install-deps'), 'install-deps is not left in the image');
    check(readdirSync(join(root, 'var/lib/apt/lists')).filter((f) => f !== 'partial' && f !== 'lock').length === 0, 'apt lists are cleaned');
    check(!has('usr/bin/gcc') && !has('usr/bin/cmake') && !has('usr/bin/node'), 'no compiler, CMake or Node');
    check(!has('lib/systemd/systemd'), 'no systemd');
    check(has('etc/ssl/certs/ca-certificates.crt'), 'the CA bundle for outbound TLS is there');
    const du = execFileSync('du', ['-sm', '--exclude=proc', root], { encoding: 'utf8' }).split('\t')[0];
    console.log(`     root file system: ${du} MiB (the image also strips docs and locales; this does not)`);

    step('serving from it');
    const redisPort = await freePort();
    const redisDir = mkdtempSync(join(tmpdir(), 'credbroker-replay-redis-'));
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', redisDir], { stdio: 'ignore' });
    started.push(() => rmSync(redisDir, { recursive: true, force: true }));
    check(await waitForPort(redisPort, 10000), 'redis-server answers');

    // What an operator mounts: the config (with its identity key) and the keyring file.
    const [uid, gid] = user.split(':').map(Number);
    const port = await freePort();
    mkdirSync(join(root, 'run/secrets'), { recursive: true });
    execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(root, 'run/secrets/id.pem')]);
    execFileSync('openssl', ['ec', '-in', join(root, 'run/secrets/id.pem'), '-pubout', '-out', join(root, 'etc/credbroker/identity.pub.pem')], { stdio: 'ignore' });
    rmSync(join(root, 'run/secrets/id.pem'));
    writeFileSync(join(root, 'etc/credbroker/config.json'), JSON.stringify({
      public_base_url: `http://127.0.0.1:${port}`,
      identity: { issuer: 'https://issuer.replay.test', audience: 'credbroker', algorithms: ['ES256'],
        public_key_pem_file: '/etc/credbroker/identity.pub.pem' },
      redis: { url: `redis://127.0.0.1:${redisPort}/0` },
    }));
    writeFileSync(join(root, 'run/secrets/credbroker_keys'), `k1:${randomBytes(32).toString('base64')}\n`, { mode: 0o400 });
    chownSync(join(root, 'run/secrets/credbroker_keys'), uid, gid);

    const runEnv = { ...env, CREDBROKER_BIND: '127.0.0.1', CREDBROKER_PORT: String(port),
      CREDBROKER_KEYS_FILE: '/run/secrets/credbroker_keys', TINI_SUBREAPER: '1' };
    const entry = [...execForm(record.ENTRYPOINT.args), ...execForm(record.CMD.args)];
    const container = spawn('chroot', [`--userspec=${user}`, root, ...entry], { env: runEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    const up = await waitForPort(port, 30000);
    check(up, `ENTRYPOINT + CMD (${entry.join(' ')}) serves on the port`);
    if (up) {
      const health = await get(port, '/api/v1/healthz');
      check(health.status === 200 && health.body === '{"status":"ok"}', 'GET /api/v1/healthz is 200 ok', JSON.stringify(health));
      const list = await get(port, '/api/v1/user/credentials');
      check(list.status === 401, 'GET /api/v1/user/credentials without a token is 401 (credbroker-list runs)', JSON.stringify(list));
      const hcCmd = execForm(record.HEALTHCHECK.args.replace(/^CMD\s*/, ''));
      const hc = spawnSync('chroot', [`--userspec=${user}`, root, ...hcCmd], { env: runEnv, encoding: 'utf8', timeout: 10000 });
      check(hc.status === 0, `HEALTHCHECK (${hcCmd.join(' ')}) exits 0`, hc.stdout + hc.stderr);
      const uids = processesIn(root).map((pid) => {
        const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        return [pid, readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), Number(m[1])];
      });
      check(uids.length >= 6 && uids.every(([, , u]) => u === uid),
        `tini, lighttpd and the handlers run as uid ${uid}`, JSON.stringify(uids));
      redis.kill('SIGTERM');
      await sleep(500);
      const down = spawnSync('chroot', [`--userspec=${user}`, root, ...hcCmd], { env: runEnv, encoding: 'utf8', timeout: 10000 });
      check(down.status === 1, 'HEALTHCHECK fails once Redis is gone', down.stdout + down.stderr);
    }
    container.kill('SIGTERM');
    for (let i = 0; i < 100 && processesIn(root).length > 0; i++) await sleep(100);
    check(processesIn(root).length === 0, 'SIGTERM to tini stops everything in the container');
  } finally {
    if (redis && redis.exitCode === null) redis.kill('SIGKILL');
    for (const f of started) f();
    for (const r of [root, buildRoot].filter(Boolean)) removeRoot(r);
  }
}

/** A fresh root from the minbase tarball, set up as the official images are, /proc mounted. */
function newRoot(tar) {
  const root = execFileSync('realpath', [mkdtempSync(join(tmpdir(), 'credbroker-replay-'))], { encoding: 'utf8' }).trim();
  execFileSync('tar', ['-C', root, '-xf', tar]);
  chmodSync(root, 0o755); // an image's / is 0755; mkdtemp's 0700 would lock the user out
  // Like the official images: the bookworm, -updates and -security sources; DNS for apt.
  if (existsSync('/etc/apt/sources.list.d/debian.sources')) {
    copyFileSync('/etc/apt/sources.list.d/debian.sources', join(root, 'etc/apt/sources.list.d/debian.sources'));
    rmSync(join(root, 'etc/apt/sources.list'), { force: true });
  }
  copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
  spawnSync('mount', ['-t', 'proc', 'proc', join(root, 'proc')]);
  return root;
}

/** Kills what still runs inside, unmounts /proc, removes the tree (never across a mount). */
function removeRoot(root) {
  for (const pid of processesIn(root)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (mountsUnder(root).length > 0) spawnSync('umount', [join(root, 'proc')]);
  // rm stays on this file system even if an unmount failed; and it is faster than fs.rmSync.
  if (mountsUnder(root).length === 0) spawnSync('rm', ['-rf', '--one-file-system', root]);
  else console.log(`left ${root} in place: still mounted ${mountsUnder(root).join(' ')}`);
}

/** The .dockerignore of the build context, as a predicate on repo-relative paths. */
function ignoredByContext() {
  return dockerignore(readFileSync(join(src, '.dockerignore'), 'utf8'));
}

/**
 * Replays one stage's instructions in `root`: RUN in a chroot (in WORKDIR, with the stage's ENV),
 * COPY from the build context (minus .dockerignore) or, with --from=build, from buildOutput(path).
 * Returns the ENV, USER and the other instructions it does not execute.
 */
function replayStage(stage, root, ignored, buildOutput) {
  let env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  let user = '0:0';
  let workdir = '/';
  const record = {};
  // No init runs in a container, so no package starts a service; in a chroot on this host one
  // could, so policy-rc.d says no while the stage runs.
  writeFileSync(join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    for (const ins of stage.instructions) {
      console.log(`     ${ins.keyword} ${ins.args.slice(0, 110)}`);
      if (ins.keyword === 'RUN') {
        const script = `cd ${JSON.stringify(workdir)} && ${ins.args}`;
        const r = spawnSync('chroot', [root, '/bin/sh', '-c', script], { env, stdio: 'inherit' });
        if (r.status !== 0) throw new Error(`RUN at line ${ins.line} exited ${r.status}`);
      } else if (ins.keyword === 'WORKDIR') {
        workdir = resolve(workdir, ins.words[0]);
        mkdirSync(join(root, workdir), { recursive: true });
      } else if (ins.keyword === 'COPY') {
        const dest = resolve(workdir, ins.words.at(-1)) + (ins.words.at(-1).endsWith('/') ? '/' : '');
        for (const s of ins.words.slice(0, -1)) {
          if (ins.flags.from === 'build') copyIn(buildOutput(s), root, dest, s, () => false, '');
          else copyIn(join(src, s), root, dest, s, ignored, s === '.' ? '' : s);
        }
      } else if (ins.keyword === 'ENV') {
        env = { ...env, ...Object.fromEntries(envPairs(ins)) };
      } else if (ins.keyword === 'USER') {
        user = ins.words[0];
      } else {
        record[ins.keyword] = ins;
      }
    }
  } finally {
    rmSync(join(root, 'usr/sbin/policy-rc.d'), { force: true });
  }
  return { env, user, record };
}

/** COPY semantics: a file to dest (or into dest/), a directory's contents into dest, owned by root. */
function copyIn(from, root, dest, name, ignored, rel) {
  if (statSync(from).isDirectory()) {
    for (const f of readdirSync(from)) {
      const r = rel === '' ? f : `${rel}/${f}`;
      if (ignored(r)) continue;
      copyIn(join(from, f), root, join(dest, f), f, ignored, r);
    }
    return;
  }
  const to = join(root, dest.endsWith('/') ? join(dest, basename(name)) : dest);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, statSync(from).mode & 0o7777);
  chownSync(to, 0, 0);
}

main().then(
  () => {
    console.log(`container.replay: ${passes} passed, ${failures} failed`);
    process.exit(failures === 0 ? 0 : 1);
  },
  (e) => {
    console.error(`container.replay: ${e.message}`);
    console.log(`container.replay: ${passes} passed, ${failures + 1} failed`);
    process.exit(1);
  },
);
