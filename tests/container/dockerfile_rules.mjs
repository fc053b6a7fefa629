// A Dockerfile parser and the image rules credbroker holds its Dockerfile to, in the spirit of
// hadolint (which neither Debian nor npm ships). dockerfilelint (pinned in package.json) runs
// beside these for its own, more generic checks; these are the rules it does not have.
//
// parse(text) -> { instructions, stages }; lint(parsed) -> [{ rule, line, message }].
// Each rule is proved able to fail by a broken example in dockerfile.test.mjs.

/** Splits a Dockerfile into instructions: continuation lines joined, comments dropped. */
export function parse(text) {
  const lines = text.split('\n');
  const instructions = [];
  let buffer = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    const trimmed = raw.trim();
    // Comment lines are dropped, also between continuation lines (as BuildKit does).
    if (trimmed.startsWith('#')) continue;
    if (buffer === '' && trimmed === '') continue;
    if (buffer === '') startLine = i + 1;
    if (/\\\s*$/.test(raw)) {
      buffer += raw.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    buffer += raw;
    instructions.push(instruction(buffer.trim(), startLine));
    buffer = '';
  }
  if (buffer.trim() !== '') instructions.push(instruction(buffer.trim(), startLine));

  const stages = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [image, as, name] = ins.words;
      stages.push({
        image,
        name: as && as.toUpperCase() === 'AS' ? name : undefined,
        line: ins.line,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { instructions, stages };
}

function instruction(text, line) {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text);
  const keyword = m[1].toUpperCase();
  let rest = m[2];
  const flags = {};
  // Leading --name=value flags (FROM --platform, COPY --from, HEALTHCHECK --interval, RUN --mount).
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    if (!f) break;
    flags[f[1]] = f[2] ?? '';
    rest = rest.slice(f[0].length);
  }
  return { keyword, flags, args: rest, words: rest.split(/\s+/).filter(Boolean), line };
}

/** The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or null for the shell form. */
export function execForm(args) {
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string') ? v : null;
  } catch {
    return null;
  }
}

/** ENV name=value pairs (both the `ENV a=1 b=2` and the legacy `ENV a 1` forms). */
export function envPairs(ins) {
  if (!ins.args.includes('=')) {
    const [name, ...value] = ins.words;
    return [[name, value.join(' ')]];
  }
  const pairs = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (let m; (m = re.exec(ins.args)) !== null; ) pairs.push([m[1], m[2].replace(/^["']|["']$/g, '')]);
  return pairs;
}

/** Shell commands of a RUN, split on && || ; | so each apt-get call is judged alone. */
function commands(run) {
  return run.args.split(/&&|\|\||;|\|/).map((c) => c.trim()).filter(Boolean);
}

const SECRET_NAME = /(^|_)(SECRET|SECRETS|TOKEN|TOKENS|PASSWORD|PASSWD|PASS|KEY|KEYS|CREDENTIAL|CREDENTIALS|APIKEY)$/i;

/** Each rule: (parsed) -> [{ line, message }]. Names are what a test or a report cites. */
export const rules = {
  'base-image-pinned'({ stages }) {
    const names = new Set();
    const out = [];
    for (const s of stages) {
      if (s.image !== 'scratch' && !names.has(s.image)) {
        const digest = s.image.includes('@sha256:');
        const tag = /:([^/:@]+)$/.exec(s.image)?.[1];
        if (!digest && !tag) out.push({ line: s.line, message: `${s.image}: no tag` });
        else if (tag === 'latest') out.push({ line: s.line, message: `${s.image}: tag latest` });
      }
      if (s.name) names.add(s.name);
    }
    return out;
  },

  'apt-get-install-flags'({ instructions }) {
    const out = [];
    for (const ins of instructions.filter((i) => i.keyword === 'RUN')) {
      for (const cmd of commands(ins)) {
        if (!/\bapt-get\b.*\binstall\b/.test(cmd)) continue;
        if (!/--no-install-recommends\b/.test(cmd)) {
          out.push({ line: ins.line, message: 'apt-get install without --no-install-recommends' });
        }
        if (!/(^|\s)(-y|--yes|--assume-yes|-[a-z]*y[a-z]*)(\s|$)/.test(cmd)) {
          out.push({ line: ins.line, message: 'apt-get install without -y' });
        }
      }
    }
    return out;
  },

  // scripts/install-deps runs apt-get update too, so its RUN must clean the lists as well.
  'apt-lists-cleaned'({ instructions }) {
    return instructions
      .filter((i) => i.keyword === 'RUN' && /apt-get\s+update|install-deps/.test(i.args))
      .filter((i) => !/rm\s+-(rf|fr)\s+(\S+\s+)*\/var\/lib\/apt\/lists\/\*/.test(i.args))
      .map((i) => ({ line: i.line, message: 'updates the apt lists without rm -rf /var/lib/apt/lists/*' }));
  },

  'final-user-not-root'({ stages }) {
    const final = stages[stages.length - 1];
    const users = final ? final.instructions.filter((i) => i.keyword === 'USER') : [];
    if (users.length === 0) return [{ line: final?.line ?? 1, message: 'the final stage has no USER' }];
    const last = users[users.length - 1];
    const user = last.words[0].split(':')[0];
    return user === 'root' || user === '0'
      ? [{ line: last.line, message: `the final stage runs as ${last.words[0]}` }]
      : [];
  },

  'healthcheck-present'({ stages }) {
    const final = stages[stages.length - 1];
    const hc = final?.instructions.filter((i) => i.keyword === 'HEALTHCHECK') ?? [];
    if (hc.length === 0) return [{ line: final?.line ?? 1, message: 'the final stage has no HEALTHCHECK' }];
    const last = hc[hc.length - 1];
    return last.words[0]?.toUpperCase() === 'NONE'
      ? [{ line: last.line, message: 'HEALTHCHECK NONE' }]
      : [];
  },

  'expose-one-port'({ stages }) {
    const final = stages[stages.length - 1];
    const exposes = final?.instructions.filter((i) => i.keyword === 'EXPOSE') ?? [];
    const ports = exposes.flatMap((i) => i.words);
    return ports.length === 1
      ? []
      : [{ line: exposes[0]?.line ?? final?.line ?? 1, message: `exposes ${ports.length} ports, not one` }];
  },

  'copy-not-add'({ instructions }) {
    return instructions
      .filter((i) => i.keyword === 'ADD')
      .map((i) => ({ line: i.line, message: 'ADD (fetches URLs, unpacks archives): use COPY' }));
  },

  'exec-form'({ instructions }) {
    const out = [];
    for (const i of instructions) {
      let args = null;
      if (i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT') args = i.args;
      if (i.keyword === 'HEALTHCHECK' && i.words[0]?.toUpperCase() === 'CMD') {
        args = i.args.replace(/^\S+\s*/, '');
      }
      if (args !== null && execForm(args) === null) {
        out.push({ line: i.line, message: `${i.keyword} in shell form (signals go to /bin/sh, not the program)` });
      }
    }
    return out;
  },

  'no-secrets-in-env'({ instructions }) {
    const out = [];
    for (const i of instructions) {
      if (i.keyword === 'ENV') {
        for (const [name, value] of envPairs(i)) {
          if (SECRET_NAME.test(name) && value !== '') {
            out.push({ line: i.line, message: `ENV ${name}: a secret baked into the image` });
          }
        }
      } else if (i.keyword === 'ARG') {
        const name = i.words[0]?.split('=')[0] ?? '';
        if (SECRET_NAME.test(name)) {
          out.push({ line: i.line, message: `ARG ${name}: build arguments stay in the image history` });
        }
      }
    }
    return out;
  },
};

export function lint(parsed) {
  return Object.entries(rules).flatMap(([rule, check]) => check(parsed).map((f) => ({ rule, ...f })));
}

/** .dockerignore patterns (Go filepath.Match plus **, ! exceptions) -> (relative path) -> ignored. */
export function dockerignore(text) {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const p = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      let re = '';
      for (let i = 0; i < p.length; i++) {
        if (p.startsWith('**/', i)) {
          re += '(?:.*/)?';
          i += 2;
        } else if (p.startsWith('**', i)) {
          re += '.*';
          i += 1;
        } else if (p[i] === '*') re += '[^/]*';
        else if (p[i] === '?') re += '[^/]';
        else re += p[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      // A pattern matching a directory excludes everything below it.
      return { negate, re: new RegExp(`^${re}(?:/.*)?$`) };
    });
  return (path) => {
    let ignored = false;
    for (const { negate, re } of patterns) if (re.test(path)) ignored = !negate;
    return ignored;
  };
}
