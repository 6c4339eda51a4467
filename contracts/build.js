#!/usr/bin/env node
// Compiles SwarmCoordinator.sol with the pinned npm `solc` and writes the committed artifact.
// Usage: npm run build:contracts   (or: node contracts/build.js [--check])
// --check exits non-zero when the committed artifact differs from a fresh build.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const here = __dirname;
const sourceName = "SwarmCoordinator.sol";
const artifactPath = path.join(here, "artifacts", "SwarmCoordinator.json");
const settings = {
  optimizer: { enabled: true, runs: 200 },
  // Cancun runs on every chain the node talks to; newer opcodes are not needed.
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

const input = {
  language: "Solidity",
  sources: { [sourceName]: { content: fs.readFileSync(path.join(here, sourceName), "utf8") } },
  settings,
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const problems = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (problems.length) process.exit(1);

const contracts = {};
for (const [name, c] of Object.entries(output.contracts[sourceName])) {
  contracts[name] = {
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: "0x" + c.evm.deployedBytecode.object,
  };
}
const artifact = {
  source: sourceName,
  compiler: { name: "solc", version: solc.version(), settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion } },
  contracts,
};
const text = JSON.stringify(artifact, null, 2) + "\n";

if (process.argv.includes("--check")) {
  const current = fs.existsSync(artifactPath) ? fs.readFileSync(artifactPath, "utf8") : "";
  if (current !== text) {
    process.stderr.write(`${artifactPath} is out of date: run npm run build:contracts\n`);
    process.exit(1);
  }
  process.stdout.write("artifact up to date\n");
} else {
  fs.mkdirSync(path.dirname(artifactPath), { recursive: true });
  fs.writeFileSync(artifactPath, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), artifactPath)}\n`);
}
