#!/usr/bin/env node
// Checks the shape rules of the tree (STYLE.md): no source file over 400 lines, no function over 60 lines outside
// test suites, and no import circle inside a package. Prints every breach and exits non-zero when there is one.
// Usage: node scripts/check-shape.mjs [--list N]   (--list prints every function longer than N lines instead)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 60;
const listAt = process.argv.includes("--list") ? Number(process.argv[process.argv.indexOf("--list") + 1]) : undefined;

function sources(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    if (["node_modules", "dist", "dist-test", "fixtures", ".git"].includes(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (/\.(ts|mts|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

const files = ["packages", "examples", "bench", "scripts"].flatMap((d) => {
  try {
    return sources(join(root, d));
  } catch {
    return [];
  }
});
const problems = [];
const imports = new Map();

for (const file of files) {
  const text = readFileSync(file, "utf8");
  const rel = relative(root, file);
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_FILE_LINES) problems.push(`${rel}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  // Test files, and the shared contract suites plugins run (src/testing/), are test suites.
  const isTest = /(^|\/)(test|testing)\//.test(rel);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const deps = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && !node.importClause?.isTypeOnly) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith(".")) deps.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
    }
    if (ts.isFunctionLike(node) && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.end).line;
      const n = end - start + 1;
      const name = node.name?.getText(sf) ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : "(anonymous)");
      const where = `${rel}:${start + 1} ${name}`;
      if (listAt !== undefined && n > listAt) console.log(`${n}\t${where}${isTest ? " (test)" : ""}`);
      // Test suites register their cases as arrow functions: a test case may be long; helpers may not.
      const isCase = isTest && ts.isCallExpression(node.parent) && /^(test|it|describe|suite)\b/.test(node.parent.expression.getText(sf));
      if (!isTest && !isCase && n > MAX_FUNCTION_LINES) problems.push(`${where}: function of ${n} lines (at most ${MAX_FUNCTION_LINES})`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  imports.set(file, deps);
}

// Import circles (value imports only; `import type` is erased and does not order module evaluation).
const state = new Map();
const stack = [];
function dfs(file) {
  state.set(file, 1);
  stack.push(file);
  for (const dep of imports.get(file) ?? []) {
    if (!imports.has(dep)) continue;
    if (state.get(dep) === 1) {
      const cycle = stack
        .slice(stack.indexOf(dep))
        .concat(dep)
        .map((f) => relative(root, f));
      problems.push(`import circle: ${cycle.join(" -> ")}`);
    } else if (!state.has(dep)) dfs(dep);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of imports.keys()) if (!state.has(file)) dfs(file);

if (listAt !== undefined) process.exit(0);
for (const p of problems) console.log(p);
console.log(problems.length ? `shape: ${problems.length} problem(s)` : `shape: ${files.length} files, no problem`);
process.exit(problems.length ? 1 : 0);
