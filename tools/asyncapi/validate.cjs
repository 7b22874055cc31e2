// Validates an AsyncAPI document with the official parser (@asyncapi/parser), as an integrator's
// tooling would read it. Usage: node validate.cjs <parser install dir> <document>
// Prints the parser's diagnostics as JSON lines; exits 1 when any is an error (severity 0).
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [home, document] = process.argv.slice(2);
  const { Parser } = require(path.join(home, "node_modules", "@asyncapi", "parser"));
  const parser = new Parser();
  const { document: parsed, diagnostics } = await parser.parse(fs.readFileSync(document, "utf8"));
  for (const d of diagnostics) {
    console.log(JSON.stringify({ severity: d.severity, code: d.code, message: d.message, path: d.path }));
  }
  const errors = diagnostics.filter((d) => d.severity === 0);
  if (!parsed || errors.length) {
    process.exit(1);
  }
  console.log(JSON.stringify({ version: parsed.version(), channels: parsed.channels().length, messages: parsed.allMessages().length, operations: parsed.operations().length }));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(2);
});
