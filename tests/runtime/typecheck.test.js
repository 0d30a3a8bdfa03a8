// The runtime's .d.ts type-checks decorated models under
// tsc --strict --experimentalDecorators (tests/runtime/typecheck/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));

test("decorators, IncludeTree and HttpResult type-check with tsc --strict", () => {
  const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(here, "typecheck")], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
