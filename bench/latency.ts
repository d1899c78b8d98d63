// Trigger latency of the watcher against a real API server: the time from a spec change (the API call
// returning) to the Stack's reconciliation-request annotation changing, over many changes, with the
// number of spurious triggers (after status-only writes) and missed changes.
import { performance } from "node:perf_hooks";
import { stacks } from "../builders/operator";
import { crdManifests } from "../model/crd";
import { startControlPlane } from "../test/cluster/controlPlane";
import { CONTROL_PLANE_ENV, create, installCrds, KubeObject, readObject, remove, useCluster } from "../test/cluster/cluster";
import { deployWatcher, installStackCrd, operatorConfig, requestOf } from "../test/cluster/operatorSetup";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Waits until the annotation differs from `before`; the time it was seen, or undefined after `timeoutMs`. */
async function nextRequest(namespace: string, stack: string, before: string | undefined, timeoutMs: number, c: Awaited<ReturnType<typeof useCluster>>) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await requestOf(c, namespace, stack);
    if (value !== before) return { at: performance.now(), value };
    await sleep(5);
  }
  return undefined;
}

export async function measureLatency(changes: number, debounceMs: number): Promise<string> {
  const controlPlane = await startControlPlane();
  process.env[CONTROL_PLANE_ENV] = JSON.stringify({ ...controlPlane, control: undefined });
  try {
    const c = await useCluster();
    await installCrds(c, crdManifests() as KubeObject[]);
    await installStackCrd(c);
    const operator = operatorConfig({ namespace: "bench-ops", namespaces: ["bench"], watcher: { debounceMs } });
    await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } });
    const watcher = await deployWatcher(c, operator, stacks(operator) as KubeObject[]);
    await watcher.waitFor(/ ready: /);
    await watcher.waitFor(/ trigger bench-ops\/crdstack /); // the start-up trigger
    await sleep(debounceMs * 4);

    const latencies: number[] = [];
    let missed = 0;
    let spurious = 0;
    const object = (i: number, size = 1): KubeObject => ({ apiVersion: "app.kubebuilder.io/v1", kind: "EasyService", metadata: { name: `svc-${i % 20}`, namespace: "bench" }, spec: { size, image: "nginx" } });
    for (let i = 0; i < changes; i++) {
      const before = await requestOf(c, "bench-ops", "crdstack");
      // Creates, spec updates and deletes in turn, over 20 objects.
      const current = await readObject(c, object(i));
      if (current === undefined) await create(c, object(i));
      else if (i % 3 === 0) await remove(c, object(i));
      else await c.request("PUT", `/apis/app.kubebuilder.io/v1/namespaces/bench/easyservices/${current.metadata.name}`, { ...current, spec: { ...current.spec, size: current.spec.size + 1 } });
      const changed = performance.now();
      const seen = await nextRequest("bench-ops", "crdstack", before, 5000, c);
      if (seen === undefined) {
        missed += 1;
        continue;
      }
      latencies.push(seen.at - changed);
      // A status-only write of some object must not trigger: watch the annotation for a quiet window.
      const status = (await readObject(c, object(i + 1))) ?? (await readObject(c, object(i)));
      if (status !== undefined) {
        await c.request("PUT", `/apis/app.kubebuilder.io/v1/namespaces/bench/easyservices/${status.metadata.name}/status`, { ...status, status: { observedGeneration: i } });
      }
      if ((await nextRequest("bench-ops", "crdstack", seen.value, debounceMs + 400, c)) !== undefined) spurious += 1;
    }
    await watcher.stop();
    const sorted = [...latencies].sort((a, b) => a - b);
    return `trigger latency, ${changes} changes, debounce ${debounceMs} ms: p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms; spurious ${spurious}, missed ${missed}`;
  } finally {
    await controlPlane.stop();
  }
}

if (require.main === module) {
  measureLatency(Number(process.env.BENCH_CHANGES ?? 200), Number(process.env.BENCH_DEBOUNCE_MS ?? 250)).then(
    (line) => console.log(line),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
