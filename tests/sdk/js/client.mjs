// Calls every building block edge serves through the official Dapr JS SDK
// (HTTP protocol) and prints what the SDK returned, one JSON document.
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from "@dapr/dapr";

const client = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: process.env.DAPR_HTTP_PORT,
  communicationProtocol: CommunicationProtocolEnum.HTTP,
});
const target = process.env.TARGET_APP_ID;
const results = {};

// Each step records its result or its error, so one failure does not hide the rest.
async function step(name, call) {
  try {
    const value = await call();
    results[name] = value === undefined ? null : value;
  } catch (error) {
    results[name] = { error: String(error?.message ?? error) };
  }
}

await step("healthy", () => client.health.isHealthy());
await step("save", () => client.state.save("statestore", [
  { key: "order-1", value: { orderId: 1, status: "new" } },
  { key: "note", value: "plain text" },
  { key: "expiring", value: 5, metadata: { ttlInSeconds: "3600" } },
]));
await step("get", () => client.state.get("statestore", "order-1"));
await step("getText", () => client.state.get("statestore", "note"));
await step("getMissing", () => client.state.get("statestore", "missing"));
await step("bulk", () => client.state.getBulk("statestore", ["order-1", "note", "missing"]));
await step("transaction", () => client.state.transaction("statestore", [
  { operation: "upsert", request: { key: "order-2", value: { orderId: 2, status: "paid" } } },
  { operation: "delete", request: { key: "note" } },
]));
await step("afterTransaction", () => client.state.getBulk("statestore", ["note", "order-2"]));
await step("delete", () => client.state.delete("statestore", "order-2"));
await step("afterDelete", () => client.state.get("statestore", "order-2"));
await step("query", () => client.state.query("statestore", {
  filter: { EQ: { status: "new" } }, sort: [{ key: "orderId" }], page: { limit: 10 },
}));
await step("secret", () => client.secret.get("secrets", "SECRET"));
await step("secretBulk", () => client.secret.getBulk("secrets"));
await step("metadataSet", () => client.metadata.set("deviceRoom", "hall-2"));
await step("metadata", () => client.metadata.get());
await step("invokePost", () => client.invoker.invoke(target, "orders/new?priority=high",
  HttpMethod.POST, { orderId: 7 }));
await step("invokeGet", () => client.invoker.invoke(target, "status/200", HttpMethod.GET));

console.log(JSON.stringify(results));
process.exit(0);
