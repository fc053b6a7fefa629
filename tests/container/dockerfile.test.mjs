// The Dockerfile without a Docker engine: a real linter (dockerfilelint, pinned), credbroker's own
// image rules (dockerfile_rules.mjs), each shown able to fail, and the cross-references an image
// build would trip over: the scripts and make targets it runs, what it copies, the build context,
// the environment infra/lighttpd/credbroker.conf reads. The packages: runtime_packages.test.mjs.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { dockerignore, envPairs, execForm, lint, parse, rules } from './dockerfile_rules.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.env.CREDBROKER_SOURCE_DIR ?? resolve(here, '../..');
const text = readFileSync(join(src, 'Dockerfile'), 'utf8');
const parsed = parse(text);
const build = parsed.stages.find((s) => s.name === 'build');
const final = parsed.stages.at(-1);

const finalEnv = Object.fromEntries(
  final.instructions.filter((i) => i.keyword === 'ENV').flatMap(envPairs),
);
const runs = (stage) => stage.instructions.filter((i) => i.keyword === 'RUN');
const copies = (stage) => stage.instructions.filter((i) => i.keyword === 'COPY');
const one = (stage, keyword) => {
  const found = stage.instructions.filter((i) => i.keyword === keyword);
  assert.equal(found.length, 1, `one ${keyword} in stage ${stage.name}`);
  return found[0];
};

/** The Dockerfile with `from` replaced by `to`; fails if `from` is not there (a no-op mutation). */
function mutate(from, to) {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  assert.ok(found, `mutation source not found: ${from}`);
  return parse(text.replace(from, to));
}

const HEALTHCHECK = /HEALTHCHECK [^\n]*\\\n[^\n]*\n/;

describe('dockerfilelint 1.8.0 (a real linter, pinned in package.json)', () => {
  const bin = join(here, 'node_modules', '.bin', 'dockerfilelint');
  const run = (file) => {
    const r = spawnSync(bin, ['-o', 'json', file], { encoding: 'utf8' });
    assert.ok(r.stdout, `dockerfilelint printed nothing (run scripts/install-deps): ${r.stderr}`);
    return JSON.parse(r.stdout).files[0].issues;
  };

  test('finds nothing in the Dockerfile', () => {
    assert.deepEqual(run(join(src, 'Dockerfile')), []);
  });

  test('reports a Dockerfile with an untagged base and an unguarded apt-get', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credbroker-lint-'));
    try {
      const bad = join(dir, 'Dockerfile');
      writeFileSync(bad, 'FROM debian\nRUN apt-get update && apt-get install curl\n');
      const titles = run(bad).map((i) => i.title);
      assert.ok(titles.includes('Base Image Missing Tag'), titles.join('; '));
      assert.ok(titles.includes('Consider `--no-install-recommends`'), titles.join('; '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('image rules', () => {
  test('the Dockerfile breaks none', () => {
    assert.deepEqual(lint(parsed), []);
  });

  // Every rule, broken one way or more; each must report, and report under its own name.
  const broken = {
    'base-image-pinned': [
      ['FROM debian:bookworm-slim AS runtime', 'FROM debian AS runtime'],
      ['FROM debian:bookworm AS build', 'FROM debian:latest AS build'],
    ],
    'apt-get-install-flags': [
      ['USER 10001', 'RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nUSER 10001'],
      ['USER 10001', 'RUN apt-get update && apt-get install --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\nUSER 10001'],
    ],
    'apt-lists-cleaned': [
      ['--runtime-only && rm -rf /var/lib/apt/lists/* /tmp/install-deps', '--runtime-only && rm -f /tmp/install-deps'],
      ['USER 10001', 'RUN apt-get update\nUSER 10001'],
    ],
    'final-user-not-root': [
      ['USER 10001:10001', 'USER root'],
      ['USER 10001:10001', 'USER 0:0'],
      ['USER 10001:10001', ''],
    ],
    'healthcheck-present': [
      [HEALTHCHECK, 'HEALTHCHECK NONE\n'],
      [HEALTHCHECK, ''],
    ],
    'expose-one-port': [
      ['EXPOSE 8080', 'EXPOSE 8080 9000'],
      ['EXPOSE 8080', 'EXPOSE 8080\nEXPOSE 9000'],
      ['EXPOSE 8080', ''],
    ],
    'copy-not-add': [['COPY infra/lighttpd/', 'ADD infra/lighttpd/']],
    'exec-form': [
      ['CMD ["serve"]', 'CMD serve'],
      ['ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/libexec/credbroker/entrypoint"]',
        'ENTRYPOINT /usr/local/libexec/credbroker/entrypoint'],
      ['CMD ["/usr/local/libexec/credbroker/healthcheck"]', 'CMD /usr/local/libexec/credbroker/healthcheck'],
    ],
    'no-secrets-in-env': [
      ['CREDBROKER_PROCS=2', 'CREDBROKER_PROCS=2 CREDBROKER_KEYS=k1:c2VjcmV0'],
      ['CREDBROKER_PROCS=2', 'CREDBROKER_PROCS=2 GITHUB_CLIENT_SECRET="x y"'],
      ['FROM debian:bookworm-slim AS runtime', 'FROM debian:bookworm-slim AS runtime\nARG REDIS_PASSWORD'],
    ],
  };

  test('every rule has a broken example', () => {
    assert.deepEqual(Object.keys(broken).sort(), Object.keys(rules).sort());
  });

  for (const [rule, examples] of Object.entries(broken)) {
    for (const [from, to] of examples) {
      test(`${rule} fails on: ${to.split('\n').find((l) => l !== '') ?? '(line removed)'}`, () => {
        const findings = rules[rule](mutate(from, to));
        assert.ok(findings.length > 0, `${rule} did not report`);
      });
    }
  }

  test('the parser reads exec forms, ENV pairs and stages as Docker does', () => {
    assert.deepEqual(execForm('["a", "b"]'), ['a', 'b']);
    assert.equal(execForm('a b'), null);
    assert.equal(execForm('["a", 1]'), null);
    assert.deepEqual(parsed.stages.map((s) => [s.image, s.name]), [
      ['debian:bookworm', 'build'],
      ['debian:bookworm-slim', 'runtime'],
    ]);
    assert.equal(finalEnv.CREDBROKER_PORT, '8080');
  });
});

describe('what the image build runs and copies', () => {
  test('the build stage runs scripts/install-deps --build-only, which selects only build packages', () => {
    const run = runs(build).find((r) => r.args.includes('install-deps'));
    const m = /(scripts\/install-deps)((?:\s+--[a-z-]+)*)/.exec(run.args);
    assert.ok(m, run.args);
    assert.ok(statSync(join(src, m[1])).mode & 0o111, `${m[1]} is not executable`);
    const flags = m[2].trim().split(/\s+/);
    assert.deepEqual(flags, ['--build-only']);
    const pkgs = execFileSync(join(src, m[1]), [...flags, '--print'], { encoding: 'utf8' }).split('\n');
    assert.ok(pkgs.includes('cmake') && pkgs.includes('libhiredis-dev'), pkgs.join(' '));
    for (const testOnly of ['redis-server', 'nodejs', 'npm', 'lighttpd', 'debootstrap']) {
      assert.ok(!pkgs.includes(testOnly), `--build-only installs ${testOnly}`);
    }
  });

  test('install-deps rejects an option it does not know (so a typo in the Dockerfile fails the build)', () => {
    const r = spawnSync(join(src, 'scripts/install-deps'), ['--runtime-onyl', '--print'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
  });

  test('`make build` as the build stage calls it builds the handlers only, after install-deps --build-only', () => {
    const run = runs(build).find((r) => /\bmake\s+build\b/.test(r.args));
    assert.ok(run, 'no RUN make build in the build stage');
    const args = run.args.replace(/^.*\bmake\s+/, '').split(/\s+/).filter(Boolean);
    const dry = execFileSync('make', ['-n', '-C', src, ...args], { encoding: 'utf8' });
    assert.match(dry, /scripts\/install-deps --build-only/);
    assert.match(dry, /cmake -S \. -B \S+ -DCMAKE_BUILD_TYPE=Release -DCREDBROKER_TESTS=OFF/);
    const target = /cmake --build \S+ -j \S+ --target ([^\n]*)/.exec(dry);
    assert.ok(target, dry);
    assert.deepEqual(target[1].trim().split(/\s+/).sort(), makefileHandlers().sort());
  });

  test('CMake configured as the build stage does it (-DCREDBROKER_TESTS=OFF) has the handlers and nothing of tests/', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credbroker-cfg-'));
    try {
      execFileSync('cmake', ['-S', src, '-B', dir, '-DCMAKE_BUILD_TYPE=Release', '-DCREDBROKER_TESTS=OFF'], { stdio: 'ignore' });
      const targets = execFileSync('cmake', ['--build', dir, '--target', 'help'], { encoding: 'utf8' });
      for (const h of makefileHandlers()) assert.match(targets, new RegExp(`\\.\\.\\. ${h}\\b`));
      assert.doesNotMatch(targets, /credbroker-devtoken|credbroker_testsupport|_test\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the runtime stage installs with scripts/install-deps --runtime-only, copied from the repo', () => {
    const copy = copies(final).find((c) => c.words[0] === 'scripts/install-deps');
    assert.ok(copy, 'install-deps is not copied into the runtime stage');
    const path = copy.words.at(-1);
    const run = runs(final).find((r) => r.args.includes(`${path} --runtime-only`));
    assert.ok(run, `no RUN ${path} --runtime-only`);
    assert.match(run.args, new RegExp(`rm -rf .*${path.replace(/[/.]/g, '\\$&')}`), 'the script is left in the image');
  });

  test('the runtime stage copies every handler the Makefile builds, from the build dir, to CREDBROKER_BIN_DIR', () => {
    const buildDir = /BUILD_DIR=(\S+)/.exec(runs(build).find((r) => /make build/.test(r.args)).args)[1];
    const copy = copies(final).find((c) => c.flags.from === 'build');
    assert.ok(copy, 'no COPY --from=build');
    const sources = copy.words.slice(0, -1);
    assert.deepEqual(sources.sort(), makefileHandlers().map((h) => `${buildDir}/bin/${h}`).sort());
    assert.equal(copy.words.at(-1), `${finalEnv.CREDBROKER_BIN_DIR}/`);
  });

  test('the runtime stage copies ui/ to the directory CREDBROKER_UI_DIR names (the page at /ui/)', () => {
    const copy = copies(final).find((c) => c.words[0] === 'ui/');
    assert.ok(copy, 'ui/ is not copied into the runtime stage');
    assert.ok(finalEnv.CREDBROKER_UI_DIR, 'CREDBROKER_UI_DIR is not set in the runtime stage');
    assert.equal(copy.words.at(-1).replace(/\/$/, ''), finalEnv.CREDBROKER_UI_DIR);
  });

  test('every COPY source exists in the repo and is in the build context', () => {
    const ignored = dockerignore(readFileSync(join(src, '.dockerignore'), 'utf8'));
    for (const stage of parsed.stages) {
      for (const c of copies(stage).filter((c) => c.flags.from === undefined)) {
        for (const s of c.words.slice(0, -1)) {
          assert.ok(existsSync(join(src, s)), `COPY ${s}: missing`);
          if (s !== '.') assert.ok(!ignored(s), `COPY ${s}: excluded by .dockerignore`);
        }
      }
    }
  });

  test('.dockerignore keeps every tracked file and drops build trees, local state and node_modules', () => {
    const ignored = dockerignore(readFileSync(join(src, '.dockerignore'), 'utf8'));
    const tracked = execFileSync('git', ['-C', src, 'ls-files'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(tracked.length > 0);
    assert.deepEqual(tracked.filter(ignored), []);
    for (const p of ['build/bin/credbroker-list', 'build-image/CMakeCache.txt', '.run/keys',
      'tests/oidc/node_modules/x/index.js', '.git/config']) {
      assert.ok(ignored(p), `${p} would be sent to the daemon`);
    }
    for (const p of ['Makefile', 'shared/store/redis.cc', 'scripts/install-deps', 'infra/docker/entrypoint']) {
      assert.ok(!ignored(p), `${p} left out of the build context`);
    }
  });

  test('ENV gives a value to every variable infra/lighttpd/credbroker.conf reads', () => {
    const conf = readFileSync(join(src, 'infra/lighttpd/credbroker.conf'), 'utf8');
    const read = [...new Set([...conf.matchAll(/\benv\.([A-Z_]+)/g)].map((m) => m[1]))];
    assert.ok(read.length >= 6, read.join(' '));
    for (const name of read) {
      assert.ok(name in finalEnv, `ENV has no ${name}`);
      if (name !== 'CREDBROKER_ERRORLOG') assert.ok(finalEnv[name], `ENV ${name} is empty`);
    }
    // Empty: lighttpd logs to the stderr it inherited. A path like /dev/stderr is reopened, which
    // uid 10001 may not do to a pipe Docker's shim (root) created.
    assert.equal(finalEnv.CREDBROKER_ERRORLOG, '');
    assert.deepEqual(one(final, 'EXPOSE').words, [finalEnv.CREDBROKER_PORT]);
  });

  test('the non-root user owns the run directory and is the one USER names', () => {
    const user = one(final, 'USER').words[0];
    const setup = runs(final).find((r) => /useradd/.test(r.args)).args;
    const [uid, gid] = user.split(':');
    assert.match(setup, new RegExp(`groupadd .*--gid ${gid}\\b`));
    assert.match(setup, new RegExp(`useradd .*--uid ${uid}\\b`));
    assert.match(setup, new RegExp(`install -d -o credbroker -g credbroker .*${finalEnv.CREDBROKER_RUN_DIR}\\b`));
  });

  test('ENTRYPOINT, HEALTHCHECK and the lighttpd config are where the image puts them', () => {
    // Image path -> repo path. A directory source copies its contents, as COPY does.
    const dest = new Map();
    for (const c of copies(final).filter((c) => c.flags.from === undefined)) {
      const to = c.words.at(-1);
      for (const s of c.words.slice(0, -1)) {
        if (statSync(join(src, s)).isDirectory()) {
          for (const f of readdirSync(join(src, s))) dest.set(join(to, f), join(s, f));
        } else {
          dest.set(to.endsWith('/') ? to + s.split('/').at(-1) : to, s);
        }
      }
    }
    const entry = execForm(one(final, 'ENTRYPOINT').args);
    assert.equal(entry[0], '/usr/bin/tini', 'tini first (its package: runtime_packages.test.mjs)');
    assert.equal(dest.get(entry.at(-1)), 'infra/docker/entrypoint');
    const hc = execForm(one(final, 'HEALTHCHECK').args.replace(/^CMD\s*/, ''));
    assert.equal(dest.get(hc[0]), 'infra/docker/healthcheck');
    const entrypoint = readFileSync(join(src, 'infra/docker/entrypoint'), 'utf8');
    const conf = /CREDBROKER_LIGHTTPD_CONF:-([^}]+)\}/.exec(entrypoint)[1];
    assert.equal(dest.get(conf), 'infra/lighttpd/credbroker.conf');
    assert.deepEqual(execForm(one(final, 'CMD').args), ['serve']);
  });
});

/** HANDLERS and ADMIN (credbroker-admin) from the Makefile: the executables `make build` builds
 *  for the image. */
function makefileHandlers() {
  const makefile = readFileSync(join(src, 'Makefile'), 'utf8');
  const m = /^HANDLERS\s*=\s*(.+)$/m.exec(makefile);
  assert.ok(m, 'Makefile has no HANDLERS');
  const admin = /^ADMIN\s*=\s*(.+)$/m.exec(makefile);
  assert.ok(admin, 'Makefile has no ADMIN');
  return [...m[1].trim().split(/\s+/), ...admin[1].trim().split(/\s+/)];
}
