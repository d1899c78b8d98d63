// The in-cluster loop against the real engine and the test cluster, as `test/engine/inCluster.test.ts`
// runs it (the watcher for real under its service account, the operator's part played by OperatorLoop
// as the workspace service account):
// (1) end-to-end latency of one changed custom resource, from the API call returning to its Deployment
//     updated and to its status Ready for the new generation, with N objects (both kinds) in the shard,
//     p50 and p99 over the changes, and how the time splits: trigger (watcher), queue (the loop sees the
//     request; both poll, so it can read below 0), engine and program start (CLI, plugins, the program's
//     cluster reads, to the first registration), apply
//     (to the last Kubernetes step), status (the status write), and what is left until Ready (mostly a
//     second run, triggered by the Deployment's own status change);
// (2) the time of a run in which one object of N never becomes ready, against one in which all are healthy.
import { performance } from "node:perf_hooks";
import { stacks, workspaceRbac } from "../builders/operator";
import { crdManifests } from "../model/crd";
import { startControlPlane } from "../test/cluster/controlPlane";
import { apply, Cluster, CONTROL_PLANE_ENV, create, installCrds, KubeObject, readObject, useCluster } from "../test/cluster/cluster";
import { deployWatcher, installStackCrd, operatorConfig, requestOf } from "../test/cluster/operatorSetup";
import { EngineEvent, LoopRun, OperatorLoop } from "../test/engine/operatorLoop";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const ms = (value: number) => `${value.toFixed(0)} ms`;

function objectsOf(count: number, namespaces: readonly string[], brokenIndex?: number): KubeObject[] {
  return Array.from({ length: count }, (_, i): KubeObject => {
    const namespace = namespaces[i % namespaces.length];
    if (i % 2 === 0) {
      const image = i === brokenIndex ? "ghcr.io/mlflow/mlflow:never-ready" : undefined;
      return { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name: `mlflow-${i}`, namespace }, spec: { size: 1, aws_access_key: `key-${i}`, aws_secret_key: `secret-${i}`, artifact_root: `s3://bucket-${i}/`, backend_uri: `postgresql://mlflow@db:5432/mlflow${i}`, ...(image ? { image } : {}) } };
    }
    return { apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: `web-${i}`, namespace }, spec: { size: 1, image: "nginx:1.27", ports: [{ port: 80 }] } };
  });
}

const readyFor = (object: KubeObject | undefined, generation: number) =>
  object?.status?.observedGeneration === generation && object.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");

/** Polls `check` every 10 ms until it returns true; the time it did. */
async function when(check: () => Promise<boolean>, timeoutMs = 180_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check().catch(() => false)) return performance.now();
    await sleep(10);
  }
  throw new Error("timed out");
}

/** The engine's milestones in one run, as times (performance.now()). */
function milestones(run: LoopRun) {
  const pre = (event: EngineEvent) => event.resourcePreEvent as { metadata?: { urn?: string; op?: string } } | undefined;
  const outputs = (event: EngineEvent) => event.resOutputsEvent as { metadata?: { urn?: string; op?: string } } | undefined;
  const programFirst = run.events.find((e) => pre(e) && pre(e)!.metadata?.op !== "refresh" && !pre(e)!.metadata?.urn?.includes("pulumi:pulumi:Stack"));
  // A child's type sits after its parent's in the URN (`…$kubernetes:apps/v1:Deployment::…`).
  const kubernetes = run.events.filter((e) => /[:$]kubernetes:/.test(outputs(e)?.metadata?.urn ?? "") && outputs(e)!.metadata?.op !== "refresh");
  const status = run.events.find((e) => outputs(e)?.metadata?.urn?.includes("StatusReport") && outputs(e)!.metadata?.op !== "refresh");
  const prelude = run.events.find((e) => e.preludeEvent !== undefined);
  return { prelude: prelude?.seenAt, programFirst: programFirst?.seenAt, lastApply: kubernetes.at(-1)?.seenAt, status: status?.seenAt };
}

async function shard(c: Cluster, name: string, namespaces: string[]) {
  const operator = operatorConfig({ namespace: `${name}-ops`, namespaces, watcher: { debounceMs: 100 } });
  for (const namespace of namespaces) await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  const stackObjects = stacks(operator) as KubeObject[];
  const watcher = await deployWatcher(c, operator, stackObjects);
  for (const manifest of workspaceRbac(operator)) await apply(c, manifest as KubeObject);
  await watcher.waitFor(/ ready: /);
  const loop = await OperatorLoop.create(c, (await readObject(c, stackObjects[0]))!);
  return { operator, stackObject: stackObjects[0], watcher, loop };
}

async function latency(c: Cluster, size: number, changes: number): Promise<string[]> {
  const namespaces = Array.from({ length: Math.min(10, size) }, (_, i) => `lat${size}-${i}`);
  const { operator, stackObject, watcher, loop } = await shard(c, `lat${size}`, namespaces);
  const objects = objectsOf(size, namespaces);
  for (const object of objects) await create(c, object);
  loop.start();
  const setupStart = performance.now();
  for (const object of objects) await when(async () => readyFor(await readObject(c, object), 1), 600_000);
  const lines = [`${size} objects (${size / 2} TrackingServers, ${size / 2} EasyServices, ${namespaces.length} namespaces): all Ready ${((performance.now() - setupStart) / 1000).toFixed(1)} s after the loop started`];
  await loop.idle();

  const samples: Record<string, number[]> = { deployment: [], ready: [], trigger: [], queue: [], engine: [], apply: [], status: [], untilReady: [], runs: [] };
  for (let i = 0; i < changes; i++) {
    const object = objects[(i * 7) % objects.length];
    const current = (await readObject(c, object))!;
    const size2 = current.spec.size === 1 ? 2 : 1;
    const before = await requestOf(c, operator.namespace, stackObject.metadata.name);
    const runsBefore = loop.runs.length;
    const updated = await c.request("PATCH", `/apis/${object.apiVersion}/namespaces/${object.metadata.namespace}/${object.kind.toLowerCase()}s/${object.metadata.name}`, { spec: { size: size2 } }, "application/merge-patch+json");
    const t0 = performance.now();
    const deploymentPath = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: object.metadata.name, namespace: object.metadata.namespace } };
    const [trigger, deployment, ready] = await Promise.all([
      when(async () => (await requestOf(c, operator.namespace, stackObject.metadata.name)) !== before),
      when(async () => (await readObject(c, deploymentPath))?.spec.replicas === size2),
      when(async () => readyFor(await readObject(c, object), updated.metadata.generation)),
    ]);
    // The run that served the change has written the status; it may still be ending.
    await loop.waitForRun(runsBefore);
    const run = loop.runs.slice(runsBefore).find((r) => r.seenAt >= trigger - 1) ?? loop.runs[runsBefore];
    const m = milestones(run);
    samples.deployment.push(deployment - t0);
    samples.ready.push(ready - t0);
    samples.trigger.push(trigger - t0);
    samples.queue.push(run.startedAt - trigger);
    samples.engine.push((m.programFirst ?? run.startedAt) - run.startedAt);
    samples.apply.push((m.lastApply ?? m.programFirst ?? run.startedAt) - (m.programFirst ?? run.startedAt));
    samples.status.push((m.status ?? run.endedAt) - (m.lastApply ?? m.programFirst ?? run.startedAt));
    samples.untilReady.push(ready - (m.status ?? run.endedAt));
    samples.runs.push(loop.runs.filter((r) => r.seenAt >= t0 && r.seenAt <= ready).length);
    await loop.idle();
  }
  const row = (what: string, values: number[]) => `  ${what.padEnd(48)} p50 ${ms(percentile(values, 50)).padStart(8)}   p99 ${ms(percentile(values, 99)).padStart(8)}`;
  lines.push(
    row(`apply → Deployment updated (${changes} changes)`, samples.deployment),
    row("apply → status Ready for the new generation", samples.ready),
    "  of which:",
    row("trigger (apply → Stack annotation)", samples.trigger),
    row("queue (annotation → run starts)", samples.queue),
    row("engine and program start (→ first step)", samples.engine),
    row("apply (first step → last Kubernetes step)", samples.apply),
    row("status (last Kubernetes step → status written)", samples.status),
    row("until Ready (status written → Ready seen)", samples.untilReady),
    `  runs between the change and Ready: p50 ${percentile(samples.runs, 50)}, max ${Math.max(...samples.runs)}; failed runs: ${loop.failures().length}`,
  );
  await loop.stop();
  await watcher.stop();
  return lines;
}

/** One run creating `size` objects from nothing, with or without one never-ready TrackingServer: seconds. */
async function firstRun(c: Cluster, size: number, broken: boolean): Promise<number> {
  const name = `run${size}${broken ? "b" : "h"}`;
  const namespaces = Array.from({ length: Math.min(10, size) }, (_, i) => `${name}-${i}`);
  const { watcher, loop } = await shard(c, name, namespaces);
  // One plain run as the workspace: no watcher, no loop.
  await watcher.stop();
  for (const object of objectsOf(size, namespaces, broken ? 0 : undefined)) await create(c, object);
  const started = performance.now();
  await loop.stack.up();
  const seconds = (performance.now() - started) / 1000;
  await loop.stop();
  return seconds;
}

export async function measureInCluster(sizes: readonly number[], changes: number): Promise<string> {
  const controlPlane = await startControlPlane();
  process.env[CONTROL_PLANE_ENV] = JSON.stringify({ ...controlPlane, control: undefined });
  const lines = ["in-cluster loop (real engine, watcher, operator's part played; kube-apiserver v1.34.4 with kwok):"];
  try {
    const c = await useCluster();
    await installCrds(c, crdManifests() as KubeObject[]);
    await installStackCrd(c);
    for (const size of sizes) lines.push(...(await latency(c, size, changes)));
    for (const size of sizes) {
      const healthy = await firstRun(c, size, false);
      const broken = await firstRun(c, size, true);
      lines.push(`first run of ${size} objects: all healthy ${healthy.toFixed(1)} s, one never ready ${broken.toFixed(1)} s (ratio ${(broken / healthy).toFixed(2)})`);
    }
  } finally {
    await controlPlane.stop();
  }
  return lines.join("\n");
}

if (require.main === module) {
  const sizes = (process.env.BENCH_LOOP_SIZES ?? "10,100").split(",").filter(Boolean).map(Number);
  measureInCluster(sizes, Number(process.env.BENCH_LOOP_CHANGES ?? 20)).then(
    (text) => console.log(text),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
