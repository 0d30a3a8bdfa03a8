// Loads a cloesce.kdl with the pipeline loader compiled to wasm32
// (examples/wasm_probe.rs, `load`) and prints {"rules": N} or {"error": …}.
// Usage: node load.mjs <probe.wasm> <cloesce.kdl>
import { readFileSync } from "node:fs";

const [wasmPath, file] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const { memory, alloc, load, result_len } = instance.exports;
const request = readFileSync(file);
const ptr = alloc(request.length);
new Uint8Array(memory.buffer, ptr, request.length).set(request);
const out = load(ptr, request.length);
process.stdout.write(new TextDecoder().decode(new Uint8Array(memory.buffer, out, result_len())));
