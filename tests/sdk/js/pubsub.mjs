// Pub/sub through the official Dapr JS SDK (HTTP protocol): a DaprServer
// subscribes, a DaprClient publishes; prints what the handlers got, one JSON document.
import {
  CommunicationProtocolEnum,
  DaprClient,
  DaprPubSubStatusEnum,
  DaprServer,
} from "@dapr/dapr";

const daprPort = process.env.DAPR_HTTP_PORT;
const appPort = process.env.APP_PORT;
const protocol = CommunicationProtocolEnum.HTTP;
const got = { orders: [], texts: [], bytes: [], flaky: [], routed: [], bulk: [], graveyard: [],
  headers: null };

const server = new DaprServer({
  serverHost: "127.0.0.1", serverPort: appPort, communicationProtocol: protocol,
  clientOptions: { daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol },
});
await server.pubsub.subscribe("bus", "orders", async (data, headers) => {
  got.orders.push(data);
  got.headers = headers;
});
await server.pubsub.subscribe("bus", "texts", async (data) => { got.texts.push(data); });
await server.pubsub.subscribe("bus", "bytes", async (data) => { got.bytes.push(String(data)); });
await server.pubsub.subscribe("bus", "flaky", async (data) => {
  got.flaky.push(data);
  return got.flaky.length === 1 ? DaprPubSubStatusEnum.RETRY : DaprPubSubStatusEnum.SUCCESS;
});
await server.pubsub.subscribeWithOptions("bus", "routed", {
  route: { rules: [{ match: 'event.data.kind == "special"', path: "special" }],
    default: "plain" },
  callback: async (data) => { got.routed.push(data); },
});
await server.pubsub.subscribeBulk("bus", "many", async (data) => { got.bulk.push(data); },
  { maxMessagesCount: 10, maxAwaitDurationMs: 200 });
await server.pubsub.subscribeWithOptions("bus", "doomed", {
  deadLetterTopic: "graveyard",
  callback: async () => DaprPubSubStatusEnum.DROP,
});
await server.pubsub.subscribe("bus", "graveyard", async (data) => { got.graveyard.push(data); });
await server.start();

// The sidecar reports ready once it has subscribed for the app.
for (let i = 0; i < 100; i++) {
  const res = await fetch(`http://127.0.0.1:${daprPort}/v1.0/healthz`).catch(() => null);
  if (res?.status === 204) break;
  await new Promise((r) => setTimeout(r, 100));
}

const client = new DaprClient({ daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol });
const results = {};
results.publishJson = await client.pubsub.publish("bus", "orders", { orderId: 1 });
results.publishText = await client.pubsub.publish("bus", "texts", "hello");
results.publishBytes = await client.pubsub.publish("bus", "bytes", Buffer.from("raw bytes"));
results.publishFlaky = await client.pubsub.publish("bus", "flaky", { n: 1 });
await client.pubsub.publish("bus", "routed", { kind: "special" });
await client.pubsub.publish("bus", "routed", { kind: "plain" });
results.bulk = await client.pubsub.publishBulk("bus", "many", [{ n: 1 }, "two", { n: 3 }]);
await client.pubsub.publish("bus", "doomed", { last: "words" });
results.unknownPubsub = await client.pubsub.publish("nosuch", "orders", { orderId: 2 });

const want = { orders: 1, texts: 1, bytes: 1, flaky: 2, routed: 2, bulk: 3, graveyard: 1 };
for (let i = 0; i < 100; i++) {
  if (Object.entries(want).every(([k, n]) => got[k].length >= n)) break;
  await new Promise((r) => setTimeout(r, 100));
}
results.unknownPubsub = results.unknownPubsub?.error ? "error" : results.unknownPubsub;
console.log(JSON.stringify({ got, results }));
await server.stop();
process.exit(0);
