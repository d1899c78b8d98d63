import assert from "node:assert/strict";
import { test } from "node:test";
import { planObjects } from "../../model/reconcile";
import { formatError } from "../../model/specs";
import { PEM } from "../helpers";

const ts = (name: string, spec: Record<string, unknown>) => ({ apiVersion: "experiment.aiscope/v1alpha2", kind: "TrackingServer", metadata: { name, namespace: "a" }, spec });

test("an object kept on its last applied spec keeps its children's names: a newcomer taking one is rejected, in either order", () => {
  const invalid = { raw: ts("a", { size: -1 }), lastAppliedSpec: { size: 1 } };
  const taker = { raw: ts("a-credentials", PEM) };
  for (const candidates of [[invalid, taker], [taker, invalid]]) {
    const { planned, errors } = planObjects(candidates);
    const byName = Object.fromEntries(planned.map((p) => [p.ref.name, p]));
    assert.equal(byName.a.fallback, true);
    assert.equal(byName["a-credentials"].applied, undefined, "the newcomer declares nothing");
    assert.ok(errors.map(formatError).includes('TrackingServer a/a-credentials: metadata.name: "a-credentials" would make the Secret "a-credentials", which TrackingServer a/a already has'));
  }
});
