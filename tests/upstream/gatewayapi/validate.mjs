// Validates Gateway API objects with @kubernetes-models/gateway-api, whose validators are
// generated from the Gateway API's Go types (sigs.k8s.io/gateway-api apis/v1: the same
// kubebuilder markers as the upstream CRDs' schemas; the CRDs' CEL rules are not in them).
// stdin: a JSON list of objects; stdout: a JSON list, per object, of its problems ([] if valid).
import { readFileSync } from "node:fs";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { Gateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import { ReferenceGrant } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1/ReferenceGrant";

const kinds = { HTTPRoute, Gateway, ReferenceGrant };
const documents = JSON.parse(readFileSync(0, "utf8"));
const problems = documents.map((document) => {
  const Kind = kinds[document.kind];
  if (!Kind) return [`no validator for kind ${document.kind}`];
  try {
    new Kind(document).validate();
    return [];
  } catch (error) {
    return [String(error.message)];
  }
});
process.stdout.write(JSON.stringify(problems));
