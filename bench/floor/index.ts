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
  for (const child of children) registerManifest(owned<Manifest>(child, owner), {});
}
