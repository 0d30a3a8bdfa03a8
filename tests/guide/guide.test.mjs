// docs/guide.md, followed literally from an empty folder (issue #16).
//
// The test reads the guide's fenced code blocks in order and does what each
// says, so it follows the guide when the guide changes:
// - a `sh` block runs line by line with bash in the current folder (a `cd`
//   carries over to the next line) and each line must exit 0;
// - a `ts`/`toml`/`json`/`jsonc`/`kdl` block is written to the file that the
//   paragraph before it names (the last `path` in backticks with that
//   extension), relative to the current folder;
// - a `diff` block is an edit of the file the paragraph before it names: its
//   ` ` and `-` lines must stand exactly once in that file, and become its
//   ` ` and `+` lines;
// - a plain block right after a block of `curl` lines is what those requests
//   answer, one line each, compared as JSON. Requests that only read (no
//   `-X`, no `-d`) are repeated for up to 60 s until they answer that, since
//   `wrangler dev` reloads a rebuilt Worker by itself, a moment later.
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
// - `--watch` lines (they never end) are skipped.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

import { freePort, sleep } from "../e2e/lib/harness.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
const TARBALL = process.env.CLOESCE_TARBALL;
const TOOLS = process.env.E2E_TOOLS || join(TARGET, "e2e-tools");
const GUIDE = join(ROOT, "docs", "guide.md");

/** The guide's fenced blocks, each with the prose since the previous one. */
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

/** The file a code block is meant to be saved as, from the prose before it. */
function fileOf(block) {
  const ext = FILE_LANGS[block.lang];
  if (!ext) return null;
  const paragraph = block.before.trim().split(/\n\s*\n/).pop() || "";
  const paths = [...paragraph.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]).filter((p) => p.endsWith(ext));
  return paths.pop() || null;
}

/** The file a `diff` block edits: the last path in backticks before it. */
function editedFileOf(block) {
  const paragraph = block.before.trim().split(/\n\s*\n/).pop() || "";
  const paths = [...paragraph.matchAll(/`([^`\s]+\.[a-z]+)`/g)].map((m) => m[1]);
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

/** Runs one line with bash in `cwd`; returns { cwd (after it), stdout }. */
function sh(line, cwd, scratch) {
  const cwdFile = join(scratch, "cwd");
  const r = spawnSync("bash", ["-c", `set -eo pipefail\n${line}\npwd > "$CWD_FILE"`], {
    cwd,
    env: { ...env, CWD_FILE: cwdFile },
    encoding: "utf8",
    timeout: 600_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) {
    throw new Error(`\`${line}\` (in ${cwd}) failed (exit ${r.status}${r.error ? ", " + r.error.message : ""}):\n${(r.stdout + r.stderr).slice(-4000)}`);
  }
  return { cwd: readFileSync(cwdFile, "utf8").trim(), stdout: r.stdout, stderr: r.stderr };
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

let server = null;
let scratch = null;
after(async () => {
  if (server) await server.stop();
  if (scratch && !process.env.GUIDE_KEEP) rmSync(scratch, { recursive: true, force: true });
});

/** Starts `wrangler dev` (the guide's line plus ports) and waits until it answers. */
async function startWranglerDev(line, cwd) {
  const port = await freePort();
  const inspector = await freePort();
  const log = join(scratch, "wrangler-dev.log");
  const fd = openSync(log, "w");
  const child = spawn(
    "bash",
    ["-c", `exec ${line} --ip 127.0.0.1 --port ${port} --inspector-port ${inspector} --show-interactive-dev-session=false`],
    { cwd, env, stdio: ["ignore", fd, fd], detached: true },
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

test("docs/guide.md works word for word from an empty folder", { timeout: 1_200_000 }, async (t) => {
  assert.ok(TARBALL && existsSync(TARBALL), `CLOESCE_TARBALL (${TARBALL}) must name the tarball scripts/build-npm.sh built: run scripts/test-guide.sh`);
  assert.ok(existsSync(join(TOOLS, "package.json")), `${TOOLS} is missing: run scripts/test-e2e.sh --tools-only`);
  scratch = mkdtempSync(join(tmpdir(), "cloesce-guide-"));
  let cwd = join(scratch, "home");
  mkdirSync(cwd);
  copyFileSync(TARBALL, join(cwd, basename(TARBALL)));

  const all = blocks(readFileSync(GUIDE, "utf8"));
  let lastCurls = null; // outputs of the previous block, when it was all `curl` lines
  let ranCurls = 0;
  for (const block of all) {
    const file = fileOf(block);
    if (file) {
      mkdirSync(dirname(join(cwd, file)), { recursive: true });
      writeFileSync(join(cwd, file), block.body);
      t.diagnostic(`wrote ${file}`);
      lastCurls = null;
      continue;
    }
    if (block.lang === "diff") {
      const edited = editedFileOf(block);
      assert.ok(edited, `a diff block names the file it edits:\n${block.body}`);
      const path = join(cwd, edited);
      writeFileSync(path, applyHunk(readFileSync(path, "utf8"), block.body));
      t.diagnostic(`edited ${edited}`);
      lastCurls = null;
      continue;
    }
    if (block.lang === "" && lastCurls) {
      const want = block.body.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lastCurls.length, want.length, "one answer line per curl line");
      const readOnly = lastCurls.lines.every((l) => !/\s(-X|-d|--data)\b/.test(l));
      const deadline = Date.now() + (readOnly ? 60_000 : 0);
      let got = lastCurls.map((g) => JSON.parse(g));
      while (!isDeepStrictEqual(got, want) && Date.now() < deadline) {
        await sleep(500);
        try {
          got = lastCurls.lines.map((l) => JSON.parse(sh(l, cwd, scratch).stdout.trim()));
        } catch {
          // A Worker being reloaded may answer with something else meanwhile.
        }
      }
      for (const [i, line] of lastCurls.lines.entries()) {
        assert.deepEqual(got[i], want[i], `answer to \`${line}\``);
      }
      lastCurls = null;
      continue;
    }
    lastCurls = null;
    if (block.lang !== "sh") continue;
    const lines = block.body.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#"));
    const curls = [];
    curls.lines = [];
    for (let line of lines) {
      if (/^scripts\/build-npm\.sh\b/.test(line)) {
        const shown = /→\s*(\S+)/.exec(line)?.[1];
        assert.equal(basename(shown || ""), basename(TARBALL), "the tarball the guide names is the one scripts/build-npm.sh builds");
        continue;
      }
      if (/--watch\b/.test(line)) {
        t.diagnostic(`skipped (never ends): ${line}`);
        continue;
      }
      if (/\bwrangler dev\b/.test(line)) {
        t.diagnostic(`background: ${line}`);
        server = await startWranglerDev(line.replace(/\s+#.*$/, ""), cwd);
        continue;
      }
      if (server) line = line.replaceAll("localhost:8787", `127.0.0.1:${server.port}`);
      line = pinTools(line);
      t.diagnostic(`$ ${line}`);
      const r = sh(line, cwd, scratch);
      cwd = r.cwd;
      if (/^curl\b/.test(line)) {
        curls.push(r.stdout.trim());
        curls.lines.push(line);
        ranCurls++;
      }
    }
    if (curls.length && curls.length === lines.length) lastCurls = curls;
  }
  assert.ok(server, "the guide starts `wrangler dev`");
  assert.ok(ranCurls >= 2, "the guide's curl lines ran");
});
