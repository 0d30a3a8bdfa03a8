// Follows a doc word for word: reads its fenced code blocks in order and
// does what each says, so a test follows the doc when the doc changes
// (guide.test.mjs: docs/guide.md from an empty folder, then
// docs/migrations.md in the project the guide built).
// - a `sh` block runs line by line with bash in the current folder (a `cd`
//   carries over to the next line) and each line must exit 0, or N when the
//   line ends with the comment `# exits N` (a failure the doc shows);
// - a `ts`/`toml`/`json`/`jsonc`/`kdl` block is written to the file that the
//   paragraph before it names (the last `path` in backticks with that
//   extension), relative to the current folder;
// - a `diff` block is an edit of the file the paragraph before it names: its
//   ` ` and `-` lines must stand exactly once in that file, and become its
//   ` ` and `+` lines;
// - a plain block (no language) right after a `sh` block is what its lines
//   printed: after `curl` lines, their answers, one line each, compared as
//   JSON (requests that only read, no `-X` and no `-d`, are repeated for up
//   to 60 s until they answer that, since `wrangler dev` reloads a rebuilt
//   Worker by itself, a moment later); after other lines, each of its
//   non-empty lines must be printed (stdout, then stderr, line by line),
//   in that order, with durations (`12ms`, `1.50s`) as any duration;
// - any other block (`text`, `yaml`, …) is only shown: that is how a doc
//   marks commands a reader should not run here (`--remote`, a deploy).
// What it cannot do literally, and does instead:
// - `scripts/build-npm.sh` runs in a cloesce checkout, not in the project:
//   the tarball it builds is given (CLOESCE_TARBALL, built by that command in
//   scripts/test-guide.sh) and copied into the starting folder, as the guide
//   says; the test checks the path the guide shows is that tarball's;
// - `npm install` pins wrangler, typescript and @cloudflare/workers-types to
//   the versions in target/e2e-tools (the end-to-end tests' tools, already in
//   npm's cache), so the test does not depend on the registry's latest;
//   cloesce itself comes only from the tarball;
// - `wrangler dev` runs in the background on a free port (and a free
//   inspector port), and `localhost:8787` in later lines becomes that port;
//   a `curl` line gets a minute, and one that only reads is tried again for
//   up to two (a failure shows the end of `wrangler dev`'s log);
// - `--watch` lines (they never end) are skipped, and so is the check of the
//   output shown after a block with a skipped line.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

import { freePort, sleep } from "../e2e/lib/harness.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
const TARBALL = process.env.CLOESCE_TARBALL;
const TOOLS = process.env.E2E_TOOLS || join(TARGET, "e2e-tools");

/** A doc's fenced blocks, each with the prose since the previous one. */
export function blocks(markdown) {
  const out = [];
  const fence = /^```(\S*)\n([\s\S]*?)^```$/gm;
  let last = 0;
  for (let m; (m = fence.exec(markdown)); ) {
    out.push({ lang: m[1], body: m[2], before: markdown.slice(last, m.index) });
    last = fence.lastIndex;
  }
  return out;
}

const FILE_LANGS = { ts: ".ts", toml: ".toml", json: ".json", jsonc: ".jsonc", kdl: ".kdl" };

/** The last paragraph of the prose before a block. */
function paragraphBefore(block) {
  return block.before.trim().split(/\n\s*\n/).pop() || "";
}

/** The file a code block is meant to be saved as, from the prose before it. */
function fileOf(block) {
  const ext = FILE_LANGS[block.lang];
  if (!ext) return null;
  const paths = [...paragraphBefore(block).matchAll(/`([^`\s]+)`/g)].map((m) => m[1]).filter((p) => p.endsWith(ext));
  return paths.pop() || null;
}

/** The file a `diff` block edits: the last path in backticks before it. */
function editedFileOf(block) {
  const paths = [...paragraphBefore(block).matchAll(/`([^`\s]+\.[a-z]+)`/g)].map((m) => m[1]);
  return paths.pop() || null;
}

/** Applies a unified-diff-like hunk (no header) to `text`. */
export function applyHunk(text, hunk) {
  const lines = hunk.replace(/\n$/, "").split("\n");
  const side = (keep) => lines.filter((l) => keep.includes(l[0] ?? " ")).map((l) => l.slice(1)).join("\n") + "\n";
  const before = side(" -");
  const after = side(" +");
  const at = text.indexOf(before);
  assert.ok(at >= 0, `the edit's context is not in the file:\n${before}`);
  assert.equal(text.indexOf(before, at + 1), -1, `the edit's context stands more than once in the file:\n${before}`);
  return text.slice(0, at) + after + text.slice(at + before.length);
}

/** Every duration (`12ms`, `1.50s`) as `<t>`, trailing blanks dropped. */
function normalized(line) {
  return line.replace(/(?<![\w.])\d+(\.\d+)?(ms|s)(?!\w)/g, "<t>").trimEnd();
}

/**
 * Checks that every non-empty line of `shown` stands in `printed`, in the
 * same order (durations as any duration); throws naming the first missing.
 */
export function assertShown(shown, printed, what) {
  const got = printed.split("\n").map(normalized);
  let at = 0;
  for (const line of shown.split("\n").map(normalized).filter((l) => l.trim())) {
    const found = got.indexOf(line, at);
    assert.ok(found >= 0, `the doc shows\n  ${line}\nafter ${what}, but it printed (from there):\n${got.slice(at).join("\n")}`);
    at = found + 1;
  }
}

const env = {
  ...process.env,
  CI: "true",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  WRANGLER_SEND_METRICS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  npm_config_prefer_offline: "true",
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

/**
 * Runs one line with bash in `cwd`, which must exit with `status`; returns
 * { cwd (after it), stdout, stderr }.
 */
function sh(line, cwd, scratch, status = 0, timeout = 600_000) {
  const cwdFile = join(scratch, "cwd");
  const r = spawnSync("bash", ["-c", `set -eo pipefail\n${line}\npwd > "$CWD_FILE"`], {
    cwd,
    env: { ...env, CWD_FILE: cwdFile },
    encoding: "utf8",
    timeout,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== status) {
    throw new Error(
      `\`${line}\` (in ${cwd}) exited ${r.status}${r.error ? ", " + r.error.message : ""}, not ${status}:\n${(r.stdout + r.stderr).slice(-4000)}`,
    );
  }
  const after = status === 0 ? readFileSync(cwdFile, "utf8").trim() : cwd;
  return { cwd: after, stdout: r.stdout, stderr: r.stderr };
}

/** Whether a `curl` line only reads (no `-X`, `-d` or `--data`): it may be sent again. */
function onlyReads(line) {
  return !/\s(-X|-d|--data)\b/.test(line);
}

/** `npm install` with the e2e tools' versions pinned. */
function pinTools(line) {
  if (!/^npm (install|i)\b/.test(line)) return line;
  const pins = JSON.parse(readFileSync(join(TOOLS, "package.json"), "utf8")).devDependencies;
  return line
    .split(" ")
    .map((word) => (pins[word] ? `${word}@${pins[word]}` : word))
    .join(" ");
}

/**
 * Where a followed doc runs: a scratch folder with `home/` (holding the
 * tarball, as the guide says) as the current folder. Docs followed one after
 * the other on one `Session` continue where the last one left off, with its
 * `wrangler dev` still serving. `close()` stops it and removes the folder.
 */
export class Session {
  constructor() {
    assert.ok(TARBALL && existsSync(TARBALL), `CLOESCE_TARBALL (${TARBALL}) must name the tarball scripts/build-npm.sh built: run scripts/test-guide.sh`);
    assert.ok(existsSync(join(TOOLS, "package.json")), `${TOOLS} is missing: run scripts/test-e2e.sh --tools-only`);
    this.scratch = mkdtempSync(join(tmpdir(), "cloesce-docs-"));
    this.cwd = join(this.scratch, "home");
    mkdirSync(this.cwd);
    copyFileSync(TARBALL, join(this.cwd, basename(TARBALL)));
    this.server = null;
    this.ranCurls = 0;
  }

  async close() {
    if (this.server) await this.server.stop();
    if (!process.env.GUIDE_KEEP) rmSync(this.scratch, { recursive: true, force: true });
  }

  /** Starts `wrangler dev` (the doc's line plus ports) and waits until it answers. */
  async startWranglerDev(line) {
    const port = await freePort();
    const inspector = await freePort();
    const log = join(this.scratch, "wrangler-dev.log");
    const fd = openSync(log, "w");
    const child = spawn(
      "bash",
      ["-c", `exec ${line} --ip 127.0.0.1 --port ${port} --inspector-port ${inspector} --show-interactive-dev-session=false`],
      { cwd: this.cwd, env, stdio: ["ignore", fd, fd], detached: true },
    );
    closeSync(fd);
    let exited = null;
    child.on("exit", (code, signal) => (exited = { code, signal }));
    const stop = async () => {
      if (exited) return;
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    };
    process.on("exit", () => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    });
    const deadline = Date.now() + 120_000;
    for (;;) {
      const tail = () => readFileSync(log, "utf8").split("\n").slice(-40).join("\n");
      if (exited) throw new Error(`\`${line}\` exited (${JSON.stringify(exited)}):\n${tail()}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`\`${line}\` did not answer within 120 s:\n${tail()}`);
      }
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        break;
      } catch {
        await sleep(300);
      }
    }
    return { port, stop };
  }

  /**
   * Runs a `curl` line against `wrangler dev`: a minute at most, and a line
   * that only reads is tried again (a Worker being rebuilt holds requests
   * for a moment). A failure shows the end of `wrangler dev`'s log, which
   * says why it did not answer.
   */
  async curl(line) {
    const readOnly = onlyReads(line);
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return sh(line, this.cwd, this.scratch, 0, 60_000);
      } catch (e) {
        if (readOnly && Date.now() < deadline) {
          await sleep(500);
          continue;
        }
        const log = join(this.scratch, "wrangler-dev.log");
        const tail = existsSync(log) ? readFileSync(log, "utf8").split("\n").slice(-40).join("\n") : "(no log)";
        throw new Error(`${e.message}\nthe end of wrangler dev's log:\n${tail}`);
      }
    }
  }

  /** Compares a plain block with the answers of the `curl` lines before it. */
  async checkAnswers(block, curls) {
    const want = block.body.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(curls.lines.length, want.length, "one answer line per curl line");
    const readOnly = curls.lines.every(onlyReads);
    const deadline = Date.now() + (readOnly ? 60_000 : 0);
    let got = curls.answers.map((g) => JSON.parse(g));
    while (!isDeepStrictEqual(got, want) && Date.now() < deadline) {
      await sleep(500);
      try {
        const answers = [];
        for (const l of curls.lines) answers.push(JSON.parse((await this.curl(l)).stdout.trim()));
        got = answers;
      } catch {
        // A Worker being reloaded may answer with something else meanwhile.
      }
    }
    for (const [i, line] of curls.lines.entries()) {
      assert.deepEqual(got[i], want[i], `answer to \`${line}\``);
    }
  }

  /** Runs a `sh` block; returns what the next block may be checked against. */
  async runShell(t, block) {
    const lines = block.body.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    const ran = { lines: [], printed: "", complete: true, curls: { lines: [], answers: [] } };
    for (let line of lines) {
      if (/^scripts\/build-npm\.sh\b/.test(line)) {
        const shown = /→\s*(\S+)/.exec(line)?.[1];
        assert.equal(basename(shown || ""), basename(TARBALL), "the tarball the doc names is the one scripts/build-npm.sh builds");
        ran.complete = false;
        continue;
      }
      if (/--watch\b/.test(line)) {
        t.diagnostic(`skipped (never ends): ${line}`);
        ran.complete = false;
        continue;
      }
      if (/\bwrangler dev\b/.test(line)) {
        t.diagnostic(`background: ${line}`);
        this.server = await this.startWranglerDev(line.replace(/\s+#.*$/, ""));
        ran.complete = false;
        continue;
      }
      const status = Number(/#\s*exits (\d+)\b/.exec(line)?.[1] ?? 0);
      if (this.server) line = line.replaceAll("localhost:8787", `127.0.0.1:${this.server.port}`);
      line = pinTools(line);
      t.diagnostic(`$ ${line}`);
      const r = /^curl\b/.test(line) ? await this.curl(line) : sh(line, this.cwd, this.scratch, status);
      this.cwd = r.cwd;
      ran.lines.push(line);
      ran.printed += r.stdout + r.stderr;
      if (/^curl\b/.test(line)) {
        ran.curls.answers.push(r.stdout.trim());
        ran.curls.lines.push(line);
        this.ranCurls++;
      }
    }
    return ran;
  }

  /** Follows the doc at `path` (relative to the repository) from the current folder. */
  async follow(t, path) {
    let last = null; // what the previous block ran, when it was a `sh` block
    for (const block of blocks(readFileSync(join(ROOT, path), "utf8"))) {
      const previous = last;
      last = null;
      const file = fileOf(block);
      if (file) {
        mkdirSync(dirname(join(this.cwd, file)), { recursive: true });
        writeFileSync(join(this.cwd, file), block.body);
        t.diagnostic(`wrote ${file}`);
      } else if (block.lang === "diff") {
        const edited = editedFileOf(block);
        assert.ok(edited, `a diff block names the file it edits:\n${block.body}`);
        const at = join(this.cwd, edited);
        writeFileSync(at, applyHunk(readFileSync(at, "utf8"), block.body));
        t.diagnostic(`edited ${edited}`);
      } else if (block.lang === "" && previous) {
        if (previous.curls.lines.length && previous.curls.lines.length === previous.lines.length) {
          await this.checkAnswers(block, previous.curls);
        } else if (previous.complete && previous.lines.length) {
          assertShown(block.body, previous.printed, previous.lines.map((l) => `\`${l}\``).join(", "));
        }
      } else if (block.lang === "sh") {
        last = await this.runShell(t, block);
      }
    }
  }
}
