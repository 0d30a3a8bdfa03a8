// Runs the cloesce built-ins compiled to wasm32 (examples/wasm_probe.rs) on a
// fixture folder and prints the generated files as JSON: {path: text}.
// Usage: node probe.mjs <probe.wasm> <fixture dir>
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const [wasmPath, dir] = process.argv.slice(2);
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push([relative(dir, p).split(sep).join("/"), readFileSync(p, "utf8")]);
  }
};
walk(dir);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const { memory, alloc, build, result_len } = instance.exports;
const request = new TextEncoder().encode(JSON.stringify({ files }));
const ptr = alloc(request.length);
new Uint8Array(memory.buffer, ptr, request.length).set(request);
const out = build(ptr, request.length);
const bytes = new Uint8Array(memory.buffer, out, result_len());
process.stdout.write(new TextDecoder().decode(bytes));
