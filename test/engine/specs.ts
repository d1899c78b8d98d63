// Spec folders for real-engine tests: objects written as YAML files into a temporary folder that a
// stack's `crdstack:specs` names, and what `render` makes of them.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dump, loadAll } from "js-yaml";
import { run as cli } from "../../cli/main";
import { apiVersionOf, Kind } from "../../model/objects";
import { KubeObject } from "../cluster/cluster";

export class SpecFolder {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-specs-"));

  /** Replaces the folder's content with one file per object. */
  write(objects: readonly KubeObject[]): void {
    for (const file of fs.readdirSync(this.dir)) fs.rmSync(path.join(this.dir, file));
    objects.forEach((object, i) => fs.writeFileSync(path.join(this.dir, `${i}-${object.kind}-${object.metadata.name}.yaml`), dump(object)));
  }

  /** What `render --show-secrets` prints for the folder; fails on problems. */
  render(): KubeObject[] {
    const result = cli(["render", "--show-secrets", this.dir]);
    if (result.code !== 0) throw new Error(`render failed: ${result.stderr}`);
    return (loadAll(result.stdout) as KubeObject[]).filter(Boolean);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export const key = (o: { kind: string; metadata: { namespace?: string; name?: string } }) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The objects whose rendered manifest differs between two renders (added, removed or changed). */
export function changedObjects(before: readonly KubeObject[], after: readonly KubeObject[]): string[] {
  const old = new Map(before.map((o) => [key(o), JSON.stringify(o)]));
  const now = new Map(after.map((o) => [key(o), JSON.stringify(o)]));
  const keys = new Set([...old.keys(), ...now.keys()]);
  return [...keys].filter((k) => old.get(k) !== now.get(k)).sort();
}

/** A custom resource of `kind` as a user writes it. */
const customResource = (kind: Kind) => (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: apiVersionOf(kind),
  kind,
  metadata: { name, namespace },
  spec,
});

export const trackingServer = customResource("TrackingServer");
export const easyService = customResource("EasyService");
