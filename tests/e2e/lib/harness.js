// e2e harness: a temp copy of an example with its `.generated/`, the SQL
// checked in a fresh sqlite3 DB, tsc over the generated TS, local D1
// migrations and a real `wrangler dev`. Every process started here runs in its
// own process group and is killed on stop, on exit and on signals.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  openSync,
  closeSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import assert from "node:assert/strict";

import { aliasPlan } from "../../../npm-wrapper/package/runtime/index.js";

const ROOT = process.env.E2E_ROOT;
const TOOLS = process.env.E2E_TOOLS;
const EXAMPLE = process.env.E2E_EXAMPLE;
const GENERATED = process.env.E2E_GENERATED;

export function requireEnv() {
  for (const [k, v] of Object.entries({ E2E_ROOT: ROOT, E2E_TOOLS: TOOLS, E2E_EXAMPLE: EXAMPLE, E2E_GENERATED: GENERATED })) {
    if (!v) throw new Error(`${k} is not set: run the e2e tests through scripts/test-e2e.sh`);
  }
}

const toolEnv = () => ({
  ...process.env,
  CI: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
});

const live = new Set();
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
function killAll() {
  for (const child of live) killGroup(child, "SIGKILL");
  live.clear();
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    killAll();
    process.exit(128 + 1);
  });
}

/** Runs a command to completion (bounded), failing with its output. */
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env || toolEnv(),
    input: opts.input,
    encoding: "utf8",
    timeout: opts.timeoutMs || 180_000,
    killSignal: "SIGKILL",
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout || ""}${r.stderr || ""}`;
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (status ${r.status}${r.error ? ", " + r.error.message : ""}):\n${out.slice(-6000)}`);
  }
  return out;
}

/**
 * Runs a command in its own process group (so a timeout kills its children
 * too, e.g. the workerd that wrangler starts) and resolves with its output.
 */
export function runAsync(cmd, args, opts = {}) {
  const timeoutMs = opts.timeoutMs || 180_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env || toolEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
    live.add(child);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      killGroup(child, "SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} timed out after ${timeoutMs} ms:\n${out.slice(-6000)}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      killGroup(child, "SIGKILL"); // anything the command left behind in its group
      live.delete(child);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${code ?? signal}):\n${out.slice(-6000)}`));
    });
  });
}

/** A temp copy of the example with `.generated/` and a node_modules of symlinks. */
export function prepareWorkspace() {
  requireEnv();
  const tmp = mkdtempSync(join(tmpdir(), `cloesce-e2e-${basename(EXAMPLE)}-`));
  const app = join(tmp, "app");
  cpSync(EXAMPLE, app, {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|\.generated|\.wrangler)(\/|$)/.test(src.slice(EXAMPLE.length)),
  });
  cpSync(GENERATED, join(app, ".generated"), {
    recursive: true,
    filter: (src) => !/(^|\/)(node_modules|\.wrangler)(\/|$)/.test(src.slice(GENERATED.length)),
  });

  const nm = join(app, "node_modules");
  mkdirSync(join(nm, "@cloudflare"), { recursive: true });
  symlinkSync(join(TOOLS, "node_modules", "wrangler"), join(nm, "wrangler"));
  symlinkSync(join(TOOLS, "node_modules", "typescript"), join(nm, "typescript"));
  symlinkSync(join(TOOLS, "node_modules", "@cloudflare", "workers-types"), join(nm, "@cloudflare", "workers-types"));
  const pkg = join(ROOT, "npm-wrapper", "package");
  if (existsSync(join(pkg, "package.json"))) {
    symlinkSync(pkg, join(nm, "cloesce"));
  } else {
    // The package root is a colleague's; stand in for it with the documented exports.
    mkdirSync(join(nm, "cloesce"));
    writeFileSync(
      join(nm, "cloesce", "package.json"),
      JSON.stringify({
        name: "cloesce",
        type: "module",
        exports: { ".": { types: "./runtime/index.d.ts", default: "./runtime/index.js" } },
      }),
    );
    symlinkSync(join(pkg, "runtime"), join(nm, "cloesce", "runtime"));
  }
  const cidl = JSON.parse(readFileSync(join(app, ".generated", "cidl.json"), "utf8"));
  return {
    tmp,
    app,
    cidl,
    state: join(tmp, "state"),
    cleanup() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function migrationFiles(app) {
  // The project's committed migrations; a hand-written fixture of
  // `.generated/` (E2E_GENERATED_DIR) may bring its own.
  const committed = join(app, "migrations");
  const dir = existsSync(committed) ? committed : join(app, ".generated", "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => join(dir, f));
}

function sqliteJson(dbFile, sql) {
  const out = run("sqlite3", ["-json", dbFile], { input: sql }).trim();
  return out ? JSON.parse(out) : [];
}

/**
 * Applies the SQL to a fresh sqlite3 DB, SELECTs from every view, and checks
 * that each `<Model>_<ds>` view has exactly the `<alias>_<column>` columns the
 * runtime will read (aliases recomputed from the IR as in §4.2).
 */
export function checkSql(ws) {
  const dbFile = join(ws.tmp, "check.sqlite3");
  const sql = migrationFiles(ws.app).map((f) => readFileSync(f, "utf8")).join("\n");
  run("sqlite3", ["-bail", dbFile], { input: `PRAGMA foreign_keys = ON;\n${sql}\n` });
  const views = sqliteJson(dbFile, `SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name;`).map((r) => r.name);
  const expected = [];
  for (const [modelName, model] of Object.entries(ws.cidl.models)) {
    for (const ds of Object.keys(model.data_sources)) expected.push(`${modelName}_${ds}`);
  }
  assert.deepEqual(views, expected.sort(), "one view per (model, data source)");
  for (const view of views) {
    sqliteJson(dbFile, `SELECT * FROM "${view}" LIMIT 1;`); // must not fail
    const [modelName, ...rest] = splitView(ws.cidl, view);
    const tree = ws.cidl.models[modelName].data_sources[rest.join("_")].tree;
    const want = [];
    (function walk(node) {
      want.push(`${node.alias}_${node.model.primary_key.name}`);
      for (const a of node.model.attributes) want.push(`${node.alias}_${a.value.name}`);
      for (const c of node.children) walk(c.node);
    })(aliasPlan(ws.cidl, modelName, tree));
    const got = sqliteJson(dbFile, `PRAGMA table_info("${view}");`).map((r) => r.name);
    assert.deepEqual(got, want, `columns of view ${view}`);
  }
  // Every non-nullable FK target is created before the table that needs it.
  const order = sqliteJson(dbFile, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid;`).map((r) => r.name);
  for (const [modelName, model] of Object.entries(ws.cidl.models)) {
    for (const a of model.attributes) {
      const nullable = typeof a.value.cidl_type === "object" && "Nullable" in a.value.cidl_type;
      if (a.foreign_key_reference && !nullable && a.foreign_key_reference !== modelName) {
        assert.ok(order.indexOf(a.foreign_key_reference) < order.indexOf(modelName), `${a.foreign_key_reference} before ${modelName}`);
      }
    }
  }
  return { views, tables: order };
}

function splitView(cidl, view) {
  for (const name of Object.keys(cidl.models)) {
    if (view.startsWith(name + "_") && cidl.models[name].data_sources[view.slice(name.length + 1)]) {
      return [name, view.slice(name.length + 1)];
    }
  }
  throw new Error(`view ${view} matches no (model, data source)`);
}

/** tsc --noEmit --strict over the user's models and all generated TS. */
export function typecheck(ws) {
  writeFileSync(
    join(ws.app, "tsconfig.e2e.json"),
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { noEmit: true, strict: true },
      include: ["src/**/*.ts", ".generated/**/*.ts"],
    }),
  );
  return run(process.execPath, [join(ws.app, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.e2e.json"], { cwd: ws.app });
}

function wranglerBin() {
  return join(TOOLS, "node_modules", "wrangler", "bin", "wrangler.js");
}

export function migrate(ws) {
  return runAsync(
    process.execPath,
    [wranglerBin(), "d1", "migrations", "apply", "db", "--local", "-c", ".generated/wrangler.toml", "--persist-to", ws.state],
    { cwd: ws.app },
  );
}

/** Runs SQL against the local D1 that wrangler dev uses. */
export async function d1Execute(ws, sql) {
  const out = await runAsync(
    process.execPath,
    [wranglerBin(), "d1", "execute", "db", "--local", "-c", ".generated/wrangler.toml", "--persist-to", ws.state, "--json", "--command", sql],
    { cwd: ws.app },
  );
  return JSON.parse(out.slice(out.indexOf("[")));
}

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tail(file, n = 60) {
  try {
    // eslint-disable-next-line no-control-regex
    return readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "").split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Starts `wrangler dev` on a free port; resolves once it answers HTTP. */
export async function startWrangler(ws, { timeoutMs = 120_000 } = {}) {
  const port = await freePort();
  const log = join(ws.tmp, "wrangler-dev.log");
  const fd = openSync(log, "w");
  const child = spawn(
    process.execPath,
    [wranglerBin(), "dev", "-c", ".generated/wrangler.toml", "--ip", "127.0.0.1", "--port", String(port), "--local",
      "--persist-to", ws.state, "--show-interactive-dev-session=false", "--inspector-port", String(await freePort())],
    { cwd: ws.app, env: { ...toolEnv(), WRANGLER_LOG_PATH: join(ws.tmp, "wrangler-logs") }, stdio: ["ignore", fd, fd], detached: true },
  );
  closeSync(fd);
  live.add(child);
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
    live.delete(child);
  });

  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    killGroup(child, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (!exited && Date.now() < deadline) await sleep(100);
    killGroup(child, "SIGKILL");
    live.delete(child);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(`wrangler dev exited early (${JSON.stringify(exited)}). Log tail:\n${tail(log)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer within ${timeoutMs} ms. Log tail:\n${tail(log)}`);
    }
    try {
      const res = await fetch(`${base}/api/__ready__/probe`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.headers.get("content-type")?.includes("application/json")) break;
    } catch {
      /* not up yet */
    }
    await sleep(300);
  }
  return { base, port, log, stop, logTail: () => tail(log) };
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** One request; asserts the envelope invariants and returns { status, json }. */
export function client(base) {
  return async function api(method, path, body) {
    const init = { method, signal: AbortSignal.timeout(20_000) };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      init.headers = { "Content-Type": "application/json" };
    }
    const res = await fetch(base + path, init);
    const text = await res.text();
    assert.match(res.headers.get("content-type") || "", /application\/json/, `${method} ${path}: content-type (${text.slice(0, 200)})`);
    const json = JSON.parse(text);
    assert.equal(res.status, json.status, `${method} ${path}: HTTP status equals envelope status`);
    assert.equal(typeof json.ok, "boolean");
    if (!json.ok) assert.equal(typeof json.message, "string");
    return { status: res.status, json, headers: res.headers };
  };
}

/**
 * Transpiles the generated client.ts to JS (typescript's transpileModule) and
 * imports it, with fetch redirected from the client's baked-in domain to the
 * running server. Returns the module's exports.
 */
export async function loadClient(ws, base) {
  const { createRequire } = await import("node:module");
  const require = createRequire(join(ws.app, "package.json"));
  const ts = require("typescript");
  const src = readFileSync(join(ws.app, ".generated", "client.ts"), "utf8");
  const js = ts.transpileModule(src, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, experimentalDecorators: true },
  }).outputText;
  const file = join(ws.app, ".generated", "client.e2e.mjs");
  writeFileSync(file, js);
  const target = new URL(base);
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname === "localhost" || url.hostname === "127.0.0.1") {
      url.protocol = target.protocol;
      url.host = target.host;
    }
    return realFetch(input instanceof Request ? new Request(url, input) : url, init);
  };
  return import(file);
}

/**
 * A user's script (tests/e2e/user/<name>.ts, exporting `main(origin)`): it
 * must pass `tsc --strict` next to the generated client, with no casts and no
 * non-null assertions; then it and client.ts are transpiled (typescript's
 * transpileModule) and main(origin) is run. Resolves to what main returns.
 */
export async function runUserScript(ws, origin, name) {
  const src = readFileSync(join(ROOT, "tests", "e2e", "user", `${name}.ts`), "utf8");
  const code = src
    .replace(/\/\/.*$/gm, "")
    .replace(/"[^"\n]*"/g, '""')
    .replace(/`[^`]*`/g, "``");
  assert.doesNotMatch(code, /\bas\s+(const\b|any\b|unknown\b|[A-Za-z_{[])/, `${name}.ts: no casts`);
  assert.doesNotMatch(code, /[\w)\]]!(\.|\)|;|,|\[)/, `${name}.ts: no non-null assertions`);
  mkdirSync(join(ws.app, "user"), { recursive: true });
  writeFileSync(join(ws.app, "user", `${name}.ts`), src);
  writeFileSync(
    join(ws.app, "tsconfig.user.json"),
    JSON.stringify({
      extends: "./tsconfig.json",
      compilerOptions: { noEmit: true, strict: true },
      include: [`user/${name}.ts`, ".generated/client.ts"],
    }),
  );
  run(process.execPath, [join(ws.app, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.user.json"], { cwd: ws.app });

  const { createRequire } = await import("node:module");
  const ts = createRequire(join(ws.app, "package.json"))("typescript");
  const out = join(ws.app, ".e2e-user");
  mkdirSync(join(out, ".generated"), { recursive: true });
  mkdirSync(join(out, "user"), { recursive: true });
  writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }));
  const transpile = (file) =>
    ts.transpileModule(readFileSync(file, "utf8"), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    }).outputText;
  writeFileSync(join(out, ".generated", "client.js"), transpile(join(ws.app, ".generated", "client.ts")));
  writeFileSync(join(out, "user", `${name}.js`), transpile(join(ws.app, "user", `${name}.ts`)));
  const mod = await import(join(out, "user", `${name}.js`));
  return mod.main(origin);
}
