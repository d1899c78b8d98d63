// One measurement in a fresh process, printed as one JSON line: `program` (index.ts under Pulumi's
// mocks), `floor` (the same Kubernetes resources with precomputed arguments under the same mocks), or
// `render` (the CLI). Usage: tsx bench/measure.ts <program|floor|render> <specs folder>
import * as pulumi from "@pulumi/pulumi";
import { performance } from "node:perf_hooks";
import { Manifest, ownerReference } from "../builders/meta";
import { childrenOf, planManifests } from "../builders/plan";
import { run } from "../cli/main";
import { registerManifest, resourceName } from "../components/children";
import { DEFAULT_MLFLOW_IMAGE } from "../model/config";
import { loadSpecFiles } from "../sources/files";

const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

function setMocks(): void {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs, metadata: { ...(args.inputs.metadata ?? {}), uid: `uid-${args.name}` } } }),
      call: (args) => args.inputs,
    },
    "crdstack",
    "bench",
    false,
  );
}

/** The floor's arguments: every object the program registers, ownerReferences included, computed up front. */
function precomputed(folder: string): Manifest[] {
  const { objects } = loadSpecFiles([folder]);
  const options = { defaultImage: DEFAULT_MLFLOW_IMAGE };
  const out = planManifests([], { installCrds: true, createCustomResources: true, trackingServer: options });
  for (const object of objects) {
    const custom = planManifests([object], { installCrds: false, createCustomResources: true, trackingServer: options })[0];
    out.push(custom);
    const owner = ownerReference(object, `uid-${resourceName(custom)}`);
    for (const child of childrenOf(object, options)) out.push({ ...child, metadata: { ...child.metadata, ownerReferences: [owner] } });
  }
  return out;
}

async function main(mode: string, folder: string): Promise<Record<string, number>> {
  if (mode === "render") {
    const start = performance.now();
    const result = run(["render", folder]);
    if (result.code !== 0) throw new Error(result.stderr);
    return { ms: performance.now() - start, documents: result.stdout.split("\n---\n").length };
  }
  setMocks();
  if (mode === "floor") {
    const resources = precomputed(folder);
    const start = performance.now();
    for (const manifest of resources) registerManifest(manifest, {});
    await waitForRPCs();
    return { ms: performance.now() - start, resources: resources.length };
  }
  pulumi.runtime.setAllConfig({ "crdstack:specs": folder });
  const program = require("../index") as () => Promise<unknown>;
  const start = performance.now();
  await program();
  await waitForRPCs();
  return { ms: performance.now() - start };
}

const cpuBefore = process.cpuUsage();
main(process.argv[2], process.argv[3]).then(
  (result) => {
    const cpu = process.cpuUsage(cpuBefore);
    console.log(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
