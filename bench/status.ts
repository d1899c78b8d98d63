// Status writes against a real API server: N TrackingServers' statuses written one after the other (the
// writer before it went parallel) and by the parallel writer (providers/status.ts, WRITE_CONCURRENCY at
// once), then the parallel writer with the live readiness reads it does in a run (one Deployment GET per
// object; here they find none). Each phase writes a status that differs from the one before, so every
// write goes out. Standalone: tsx bench/status.ts [N] (default 1000).
import { performance } from "node:perf_hooks";
import * as k8s from "@kubernetes/client-node";
import { LiveReadiness, statusEntry, StatusEntry } from "../builders/status";
import { crdManifests } from "../model/crd";
import { TrackingServerObject } from "../model/objects";
import { liveApiFrom, LiveApi } from "../providers/readiness";
import { WRITE_CONCURRENCY, eachLimited, writeStatus, writeStatuses } from "../providers/status";
import { startControlPlane } from "../test/cluster/controlPlane";
import { CONTROL_PLANE_ENV, create, installCrds, KubeObject, useCluster } from "../test/cluster/cluster";

const NAMESPACE = "bench-status";
const noLive: LiveApi = { readDeployment: async () => undefined, firstPod: async () => undefined };

/** Every object's entry, its readiness saying `phase` so that each phase writes something new. */
function entries(objects: readonly KubeObject[], phase: string, live: boolean): Record<string, StatusEntry> {
  const reading: LiveReadiness = { ready: { type: "Ready", status: "True", reason: "Available", message: `1/1 replicas ready (${phase})` } };
  return Object.fromEntries(objects.map((object) => {
    const applied = { kind: "TrackingServer", metadata: { name: object.metadata.name, namespace: NAMESPACE }, spec: {} } as TrackingServerObject;
    const report = { kind: "TrackingServer" as const, namespace: NAMESPACE, name: object.metadata.name, uid: object.metadata.uid, generation: 1, problems: [], applied, drift: [phase] };
    return [object.metadata.name, live ? statusEntry(report) : statusEntry(report, reading)];
  }));
}

export async function measureStatusWrites(count: number): Promise<string> {
  const controlPlane = await startControlPlane();
  process.env[CONTROL_PLANE_ENV] = JSON.stringify({ ...controlPlane, control: undefined });
  try {
    const c = await useCluster();
    await installCrds(c, crdManifests() as KubeObject[]);
    await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
    const objects: KubeObject[] = [];
    const names = Array.from({ length: count }, (_, i) => `ts-${i}`);
    await eachLimited(names, WRITE_CONCURRENCY, async (name) => {
      objects.push(await create(c, { apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace: NAMESPACE }, spec: {} }));
    });
    const api = c.config.makeApiClient(k8s.CustomObjectsApi);

    let start = performance.now();
    const now = new Date().toISOString();
    for (const entry of Object.values(entries(objects, "sequential", false))) await writeStatus(api, entry, now);
    const sequential = performance.now() - start;

    start = performance.now();
    const parallel = await writeStatuses(api, noLive, entries(objects, "parallel", false));
    const parallelMs = performance.now() - start;

    start = performance.now();
    const withReads = await writeStatuses(api, liveApiFrom(c.config), entries(objects, "live", true));
    const withReadsMs = performance.now() - start;

    const failed = Object.keys(parallel.failed).length + Object.keys(withReads.failed).length;
    return [
      `status writes of ${count} TrackingServers against the API server (${WRITE_CONCURRENCY} at once when parallel)${failed ? `; ${failed} failed` : ""}`,
      `  sequential                ${sequential.toFixed(0).padStart(7)} ms`,
      `  parallel                  ${parallelMs.toFixed(0).padStart(7)} ms   ${(sequential / parallelMs).toFixed(1)}x faster`,
      `  parallel + live readiness ${withReadsMs.toFixed(0).padStart(7)} ms   ${(sequential / withReadsMs).toFixed(1)}x faster`,
    ].join("\n");
  } finally {
    await controlPlane.stop();
  }
}

if (require.main === module) {
  measureStatusWrites(Number(process.argv[2] ?? 1000)).then(
    (report) => console.log(report),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
