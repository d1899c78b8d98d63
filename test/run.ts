// `npm test`: provides the toolchain (scripts/toolchain.sh), starts one real cluster for the whole run, runs every test file with node's test
// runner against it, and stops the control plane whatever the outcome.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { startControlPlane } from "./cluster/controlPlane";
import { CONTROL_PLANE_ENV } from "./cluster/cluster";

function testFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(file);
    return entry.name.endsWith(".test.ts") ? [file] : [];
  }).sort();
}

async function main(): Promise<number> {
  const files = process.argv.length > 2 ? process.argv.slice(2) : testFiles(__dirname);
  const started = Date.now();
  const controlPlane = await startControlPlane();
  console.log(`# control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s at ${controlPlane.server}`);
  // Test files run in child processes: they ask for an API server restart over loopback HTTP.
  const control = http.createServer((request, response) => {
    if (request.method !== "POST" || request.url !== "/restart-apiserver") return void response.writeHead(404).end();
    controlPlane.restartApiServer().then(
      () => response.writeHead(204).end(),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  try {
    const { kubeconfig, binaries, server, caFile, toolchain } = controlPlane;
    const shared = { kubeconfig, binaries, server, caFile, toolchain, control: controlUrl };
    const env = { ...process.env, [CONTROL_PLANE_ENV]: JSON.stringify(shared) };
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=1", ...files], { stdio: "inherit", env });
    return await new Promise<number>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    control.close();
    await controlPlane.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
