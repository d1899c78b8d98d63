// Changes a valid spec may still not make, because they would lose data: compared with the last spec the
// children were made from. A change that breaks one of these rules is treated like an invalid spec.
import { quote } from "./common";
import { quantityValue } from "./resources";
import { CustomObject, Problem } from "./objects";
import { TrackingServerSpec } from "./trackingServer";

function volumeProblems(previous: TrackingServerSpec, next: TrackingServerSpec): Problem[] {
  if (previous.volumeSize === undefined) return [];
  if (next.volumeSize === undefined) {
    // Pulumi keeps a resource only if it was marked to be kept before it left the program.
    return next.retainVolume === true && previous.retainVolume !== true
      ? [{ path: "spec.retainVolume", message: "must be applied while the volume is still in the spec: apply `retainVolume: true` first, then remove volumeSize and storageClassName" }]
      : [];
  }
  const problems: Problem[] = [];
  if (next.storageClassName !== previous.storageClassName) {
    problems.push({
      path: "spec.storageClassName",
      message: `${quote(next.storageClassName)} cannot replace ${quote(previous.storageClassName)}: the claim's class is fixed and a new claim would be a new, empty database volume`,
    });
  }
  if (quantityValue(next.volumeSize) < quantityValue(previous.volumeSize)) {
    problems.push({ path: "spec.volumeSize", message: `${quote(next.volumeSize)} is below the current ${quote(previous.volumeSize)}: volumes cannot shrink` });
  }
  return problems;
}

/** Problems with moving the children from `previous` (the last applied spec) to `next`. */
export function transitionProblems(previous: CustomObject | undefined, next: CustomObject): Problem[] {
  if (previous === undefined || previous.kind !== "TrackingServer" || next.kind !== "TrackingServer") return [];
  return volumeProblems(previous.spec, next.spec);
}
