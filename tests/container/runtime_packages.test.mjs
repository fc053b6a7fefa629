// The image's runtime stage installs `scripts/install-deps --runtime-only` on debian:bookworm-slim.
// Without a Docker engine, this checks that list against what the shipped programs need:
//   - the shared libraries the handlers, lighttpd and tini load (readelf NEEDED for the direct
//     ones, ldd for all), mapped to Debian packages with dpkg -S;
//   - what apt would install for that list on a bookworm-slim base, from apt's own resolver run in
//     simulation against an empty dpkg status (the base: Priority required packages and apt, which
//     is what debootstrap --variant=minbase and so bookworm-slim contain);
//   - the tools the entrypoint, the health check and the runtime stage's RUN lines call.
// `make container-check` (replay.mjs) goes further and serves from a debootstrapped bookworm.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.CREDBROKER_SOURCE_DIR ?? resolve(here, '../..');
const binDir = process.env.CREDBROKER_BIN_DIR ?? join(src, 'build', 'bin');
const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8' });

const runtimeList = sh(join(src, 'scripts/install-deps'), ['--runtime-only', '--print'])
  .split('\n')
  .filter(Boolean);
const handlers = /^HANDLERS\s*=\s*(.+)$/m
  .exec(readFileSync(join(src, 'Makefile'), 'utf8'))[1]
  .trim()
  .split(/\s+/)
  .map((h) => join(binDir, h));
const which = (cmd) => {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} is not installed here (run scripts/install-deps)`);
  return r.stdout.trim();
};
/** The programs the image runs: the handlers, lighttpd, tini (ENTRYPOINT). */
const programs = () => [...handlers, which('lighttpd'), which('tini')];
/** Commands infra/docker/{entrypoint,healthcheck} and the runtime stage's RUN lines call. */
const TOOLS = ['bash', 'timeout', 'cat', 'mkdir', 'head', 'groupadd', 'useradd', 'install', 'rm'];

/** Path -> owning package, trying both sides of the /usr merge (dpkg knows one of them). */
function owners(paths) {
  const candidates = new Map();
  for (const p of paths) {
    const forms = new Set([p, realpathSync(p)]);
    for (const f of [...forms]) {
      forms.add(f.startsWith('/usr/') ? f.slice(4) : `/usr${f}`);
    }
    for (const f of forms) candidates.set(f, p);
  }
  const r = spawnSync('dpkg', ['-S', ...candidates.keys()], { encoding: 'utf8' });
  const out = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^:,\s]+)(?::[a-z0-9]+)?: (.+)$/.exec(line);
    if (m && candidates.has(m[2])) out.set(candidates.get(m[2]), m[1]);
  }
  return out;
}

/** { direct, all, missing }: library paths of an ELF file (readelf NEEDED, ldd). */
function libraries(elf) {
  const needed = [...sh('readelf', ['-d', elf]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const resolved = new Map();
  const missing = [];
  for (const line of sh('ldd', [elf]).split('\n')) {
    const found = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (found) resolved.set(found[1], found[2]);
    const notFound = /^\s*(\S+) => not found/.exec(line);
    if (notFound) missing.push(notFound[1]);
  }
  return {
    direct: needed.filter((n) => resolved.has(n)).map((n) => resolved.get(n)),
    all: [...resolved.values()],
    missing: missing.concat(needed.filter((n) => !resolved.has(n) && !missing.includes(n))),
  };
}

/** Packages apt installs for `names` into an empty system (no recommends), by simulation. */
async function simulate(names) {
  const dir = mkdtempSync(join(tmpdir(), 'credbroker-apt-'));
  try {
    writeFileSync(join(dir, 'status'), '');
    const { stdout } = await promisify(execFile)(
      'apt-get',
      ['-s', '-o', `Dir::State::status=${join(dir, 'status')}`, '-o', 'Dir::Cache::pkgcache=',
        '-o', 'Dir::Cache::srcpkgcache=', 'install', '--no-install-recommends', ...names],
      { encoding: 'utf8', maxBuffer: 16 << 20 },
    );
    return new Set([...stdout.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]));
  } catch (e) {
    throw new Error(`apt-get -s failed (apt lists missing? run apt-get update): ${e.stderr ?? e}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The checks, as pure functions of their inputs, so each can be shown to fail.

/** Direct libraries whose package is neither named in the runtime list nor in the base. */
function unlistedDirect(libPackages, list, base) {
  return [...new Set(libPackages)].filter((p) => !list.includes(p) && !base.has(p)).sort();
}
/** Packages of loaded libraries that the runtime stage would not have at all. */
function notInstalled(libPackages, installed) {
  return [...new Set(libPackages)].filter((p) => !installed.has(p)).sort();
}
/** Init systems a runtime install would drag in. */
function initSystems(added) {
  return ['systemd', 'systemd-sysv', 'sysvinit-core', 'runit-init', 'openrc'].filter((p) => added.has(p));
}

describe('runtime stage packages (scripts/install-deps --runtime-only)', () => {
  let base; // bookworm-slim: Priority required + apt
  let image; // base + the runtime list
  const libs = new Map(); // program -> libraries()

  before(async () => {
    for (const h of handlers) assert.ok(existsSync(h), `${h} is not built`);
    const required = [
      ...new Set(sh('bash', ['-c', "apt-cache dumpavail | awk '/^Package:/ {p = $2} /^Priority: required$/ {print p}'"]).split('\n').filter(Boolean)),
    ];
    assert.ok(required.includes('bash') && required.includes('dpkg'), `required: ${required.join(' ')}`);
    [base, image] = await Promise.all([
      simulate(['apt', ...required]),
      simulate(['apt', ...required, ...runtimeList]),
    ]);
    for (const p of programs()) libs.set(p, libraries(p));
  });

  test('ldd finds every library the programs need', () => {
    for (const [p, l] of libs) assert.deepEqual(l.missing, [], `${p}: missing ${l.missing.join(' ')}`);
  });

  test('every directly linked library comes from a package the list names, or from the base image', () => {
    const pkgs = owners([...libs.values()].flatMap((l) => l.direct));
    for (const [p, l] of libs) {
      for (const lib of l.direct) assert.ok(pkgs.has(lib), `${p}: no package owns ${lib}`);
    }
    assert.deepEqual(unlistedDirect([...pkgs.values()], runtimeList, base), []);
    // The handlers' own libraries are named explicitly, not left to chance.
    for (const p of ['libfcgi0ldbl', 'libhiredis0.14', 'libcurl4', 'libssl3']) {
      assert.ok([...pkgs.values()].includes(p) && runtimeList.includes(p), p);
    }
  });

  test('every library loaded at all (ldd) is installed by the runtime stage', () => {
    const all = [...libs.values()].flatMap((l) => l.all);
    const pkgs = owners(all);
    for (const lib of all) assert.ok(pkgs.has(lib), `no package owns ${lib}`);
    assert.deepEqual(notInstalled([...pkgs.values()], image), []);
  });

  test('the programs themselves come from the list (lighttpd, tini) and the tools from the base', () => {
    const [lighttpd, tini] = [which('lighttpd'), which('tini')];
    const pkgs = owners([lighttpd, tini]);
    assert.equal(pkgs.get(lighttpd), 'lighttpd');
    assert.equal(pkgs.get(tini), 'tini');
    assert.ok(runtimeList.includes('lighttpd') && runtimeList.includes('tini'));
    const tools = owners(TOOLS.map(which));
    for (const t of TOOLS) assert.ok(base.has(tools.get(which(t))), `${t} (${tools.get(which(t))}) is not in bookworm-slim`);
  });

  test('lighttpd loads every module credbroker.conf names, from packages the runtime stage installs', () => {
    const conf = join(src, 'infra/lighttpd/credbroker.conf');
    const modules = [.../server\.modules\s*=\s*\(([^)]*)\)/.exec(readFileSync(conf, 'utf8'))[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    assert.ok(modules.includes('mod_fastcgi'), modules.join(' '));
    // A module is a .so of some package, or built into lighttpd; -tt loads them all.
    const sos = modules.map((m) => `/usr/lib/lighttpd/${m}.so`).filter(existsSync);
    for (const [, pkg] of owners(sos)) assert.ok(image.has(pkg), `${pkg} is not installed by the runtime stage`);
    const dir = mkdtempSync(join(tmpdir(), 'credbroker-tt-'));
    try {
      const r = spawnSync('lighttpd', ['-tt', '-f', conf], {
        encoding: 'utf8',
        env: { ...process.env, CREDBROKER_BIND: '127.0.0.1', CREDBROKER_PORT: '8080', CREDBROKER_BIN_DIR: binDir,
          CREDBROKER_RUN_DIR: dir, CREDBROKER_ERRORLOG: '/dev/stderr', CREDBROKER_PROCS: '1' },
      });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // lighttpd depends on "systemd-sysv | lsb-base"; on bookworm-slim sysvinit-utils (Essential)
  // provides lsb-base, so apt keeps systemd out. Into an image without it, apt would add systemd.
  test('the list installs no init system', () => {
    const added = new Set([...image].filter((p) => !base.has(p)));
    assert.deepEqual(initSystems(added), []);
  });

  test('the list holds no compiler, -dev package, Node or test server', () => {
    const added = [...image].filter((p) => !base.has(p));
    for (const p of added) {
      assert.ok(!/-dev$|^build-essential$|^g\+\+|^gcc(-\d+)?$|^cmake$|^nodejs$|^npm$|^redis-server$|^curl$/.test(p), p);
    }
  });

  test('each check reports when the list is wrong', () => {
    const direct = owners(libs.get(handlers[0]).direct);
    const directPkgs = [...direct.values()];
    assert.deepEqual(unlistedDirect(directPkgs, runtimeList.filter((p) => p !== 'libhiredis0.14'), base), ['libhiredis0.14']);
    // A handler that links libcurl (list, connect and health load it only on demand: CMakeLists.txt).
    const withCurl = handlers.find((h) => h.endsWith('credbroker-delete'));
    const all = [...owners(libs.get(withCurl).all).values()];
    const lessCurlDeps = new Set([...image].filter((p) => p !== 'libnghttp2-14'));
    assert.deepEqual(notInstalled(all, lessCurlDeps), ['libnghttp2-14']);
    assert.deepEqual(initSystems(new Set(['systemd', 'tini'])), ['systemd']);
  });
});

