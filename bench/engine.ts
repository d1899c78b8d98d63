// The real engine against the test cluster, for N TrackingServers plus N EasyServices: `pulumi preview`
// and `pulumi up` of a first run, a run with nothing to do, and a run changing one object, for the
// program and for the floor (bench/floor: the same Kubernetes resources from precomputed manifests, run
// by the same engine), then `kubectl apply --server-side` of what `render` prints. Side by side in one
// run, so the ratios compare like with like. Also the program's start: loading and compiling index.ts
// the way Pulumi's runner does (ts-node, transpile-only), before its first registration.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { dump, loadAll } from "js-yaml";
import { childrenOf, planManifests } from "../builders/plan";
import { run as cli } from "../cli/main";
import { DEFAULT_MLFLOW_IMAGE } from "../model/config";
import { crdManifests } from "../model/crd";
import { loadSpecFiles } from "../sources/files";
import { startControlPlane } from "../test/cluster/controlPlane";
import { newStack, PROJECT_ROOT, PulumiStack } from "../test/engine/pulumi";
import { writeSpecs } from "./specs";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** The floor's manifests: the CRDs, and per object its custom resource and children, as the program declares them. */
function floorManifests(folder: string, file: string): void {
  const options = { defaultImage: DEFAULT_MLFLOW_IMAGE };
  const entries = loadSpecFiles([folder]).objects.map((object) => ({
    object,
    custom: planManifests([object], { installCrds: false, createCustomResources: true, trackingServer: options })[0],
    children: childrenOf(object, options),
  }));
  fs.writeFileSync(file, JSON.stringify({ crds: crdManifests(), entries }));
}

/** One object's size changed in the spec file: a one-object change. */
function changeOne(folder: string): void {
  const file = path.join(folder, "specs.yaml");
  const documents = loadAll(fs.readFileSync(file, "utf8")) as { kind: string; spec: { size: number } }[];
  const target = documents.find((d) => d.kind === "EasyService")!;
  target.spec.size += 1;
  fs.writeFileSync(file, documents.map((d) => dump(d)).join("---\n"));
}

interface Phases { preview: number; up: number; noop: number; change: number }

async function phases(stack: PulumiStack, change: () => void): Promise<Phases> {
  const preview = await timed(() => stack.preview());
  const up = await timed(() => stack.up("--skip-preview"));
  const noop = await timed(() => stack.up("--skip-preview"));
  change();
  const changed = await timed(() => stack.up("--skip-preview"));
  await stack.destroy();
  await stack.remove();
  return { preview, up, noop, change: changed };
}

/** Milliseconds from process start until index.ts is loaded under ts-node (transpile-only), as Pulumi's runner does. */
function programStart(): number {
  const script = `require("ts-node").register({ transpileOnly: true, project: "tsconfig.json" }); require("./index.ts"); console.log(performance.now());`;
  return Number(execFileSync(process.execPath, ["-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim().split("\n").pop());
}

export async function measureEngine(sizes: readonly number[]): Promise<string> {
  const lines = [
    "real engine (pulumi up/preview against the test cluster):",
    `program start (load and compile index.ts, transpile-only, before any registration): ${programStart().toFixed(0)} ms`,
    "specs (TS+ES)   what              preview first   up first   up no-op   up one change",
  ];
  const controlPlane = await startControlPlane();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-bench-engine-"));
  try {
    const kubeconfig = controlPlane.kubeconfig;
    const kubectl = (...args: string[]) => execFileSync(path.join(controlPlane.binaries, "kubectl"), ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8", maxBuffer: 1 << 28 });
    for (const size of sizes) {
      const folder = path.join(root, String(size));
      writeSpecs(folder, size, "standard", `bench${size}`);
      const namespaces = Array.from({ length: Math.min(size, 50) }, (_, i) => `bench${size}-${i}`);
      for (const namespace of namespaces) kubectl("create", "namespace", namespace);
      const program = await phases(await newStack(controlPlane.toolchain, { config: { specs: folder }, kubeconfig }), () => changeOne(folder));
      writeSpecs(folder, size, "standard", `bench${size}`);
      const manifests = path.join(root, `floor-${size}.json`);
      floorManifests(folder, manifests);
      const floorStack = await newStack(controlPlane.toolchain, { config: {}, kubeconfig, projectDir: path.join(__dirname, "floor"), env: { FLOOR_MANIFESTS: manifests } });
      const floor = await phases(floorStack, () => {
        changeOne(folder);
        floorManifests(folder, manifests);
      });
      writeSpecs(folder, size, "standard", `bench${size}`);
      const rendered = path.join(root, `render-${size}.yaml`);
      fs.writeFileSync(rendered, cli(["render", "--show-secrets", folder]).stdout);
      const applyFirst = await timed(async () => kubectl("apply", "--server-side", "-f", rendered));
      const applyAgain = await timed(async () => kubectl("apply", "--server-side", "-f", rendered));
      kubectl("delete", "namespace", ...namespaces, "--wait=false");
      const row = (what: string, p: Phases) => `${`${size}+${size}`.padEnd(15)} ${what.padEnd(17)} ${seconds(p.preview).padStart(13)} ${seconds(p.up).padStart(10)} ${seconds(p.noop).padStart(10)} ${seconds(p.change).padStart(15)}`;
      const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
      lines.push(row("program", program), row("floor", floor));
      lines.push(`${"".padEnd(15)} ${"program/floor".padEnd(17)} ${ratio(program.preview, floor.preview).padStart(13)} ${ratio(program.up, floor.up).padStart(10)} ${ratio(program.noop, floor.noop).padStart(10)} ${ratio(program.change, floor.change).padStart(15)}`);
      lines.push(`${"".padEnd(15)} ${"kubectl apply".padEnd(17)} ${"".padStart(13)} ${seconds(applyFirst).padStart(10)} ${seconds(applyAgain).padStart(10)}`);
    }
  } finally {
    await controlPlane.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return lines.join("\n");
}
