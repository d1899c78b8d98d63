// The benchmark's floor under the real engine: the same Kubernetes resources the program registers for
// a spec folder, from manifests computed before the run (FLOOR_MANIFESTS, a JSON file written by
// bench/engine.ts), each child tied to its custom resource's uid as the program does. What the engine
// and the provider cost, without the program's own work.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { Manifest, ownerReference } from "../../builders/meta";
import { owned, registerManifest } from "../../components/children";
import { CustomObject } from "../../model/objects";

interface Entry { object?: CustomObject; custom?: Manifest; children: Manifest[] }

const { crds, entries } = JSON.parse(fs.readFileSync(process.env.FLOOR_MANIFESTS!, "utf8")) as { crds: Manifest[]; entries: Entry[] };
const definitions = crds.map((crd) => registerManifest(crd, { retainOnDelete: true }));
for (const { object, custom, children } of entries) {
  const resource = registerManifest(custom!, { dependsOn: definitions }) as unknown as { metadata: pulumi.Output<{ uid: string }> };
  const owner = resource.metadata.apply((metadata) => ownerReference(object!, metadata.uid));
  // The program's order: a Deployment after the Secrets and the claim its pods use, so that a destroy
  // deletes the pods before their claim (whose protection finalizer waits for them).
  const used = children.filter((child) => child.kind === "Secret" || child.kind === "PersistentVolumeClaim").map((child) => registerManifest(owned<Manifest>(child, owner), {}));
  for (const child of children.filter((c) => c.kind !== "Secret" && c.kind !== "PersistentVolumeClaim")) {
    registerManifest(owned<Manifest>(child, owner), { dependsOn: child.kind === "Deployment" ? used : [] });
  }
}
