import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { EnvelopeSchema, reflectionV1, reflectionV1alpha } from "@xmtp-ts/proto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Harness, startHarness } from "./test-harness.js";

type V1Request = Parameters<typeof create<typeof reflectionV1.ServerReflectionRequestSchema>>[1];

describe("gRPC server reflection", () => {
  let h: Harness;
  let transport: Transport;
  beforeAll(async () => {
    h = await startHarness();
    transport = createGrpcTransport({ baseUrl: h.grpcUrl, httpVersion: "2" });
  });
  afterAll(() => h.close());

  /** Sends the requests on one v1 stream and returns the answers in order. */
  async function ask(...requests: V1Request[]): Promise<reflectionV1.ServerReflectionResponse[]> {
    const client = createClient(reflectionV1.ServerReflection, transport);
    const out: reflectionV1.ServerReflectionResponse[] = [];
    async function* reqs() {
      for (const r of requests) yield create(reflectionV1.ServerReflectionRequestSchema, r);
    }
    for await (const res of client.serverReflectionInfo(reqs())) out.push(res);
    return out;
  }

  const descriptors = (res: reflectionV1.ServerReflectionResponse) => {
    if (res.messageResponse.case !== "fileDescriptorResponse")
      throw new Error(`got ${res.messageResponse.case}`);
    return res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
  };

  test("lists the API, health and reflection services", async () => {
    const [res] = await ask({ messageRequest: { case: "listServices", value: "" } });
    expect(res?.messageResponse.case).toBe("listServicesResponse");
    const names =
      res?.messageResponse.case === "listServicesResponse"
        ? res.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names.sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "xmtp.message_api.v1.MessageApi",
    ]);
  });

  test("files by symbol (service, method, nested type) and by name; enough to build a dynamic client", async () => {
    const [service, method, nested, byName] = await ask(
      { messageRequest: { case: "fileContainingSymbol", value: "xmtp.message_api.v1.MessageApi" } },
      {
        messageRequest: { case: "fileContainingSymbol", value: "xmtp.message_api.v1.MessageApi.Subscribe2" },
      },
      {
        messageRequest: {
          case: "fileContainingSymbol",
          value: "grpc.health.v1.HealthCheckResponse.ServingStatus",
        },
      },
      { messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } },
    );
    const api = descriptors(service!);
    expect(api.map((f) => f.name)).toEqual(["xmtp/message_api/v1/message_api.proto"]);
    expect(api[0]?.service[0]?.method.map((m) => m.name)).toEqual([
      "Publish",
      "Subscribe",
      "Subscribe2",
      "SubscribeAll",
      "Query",
      "BatchQuery",
    ]);
    expect(descriptors(method!).map((f) => f.name)).toEqual(["xmtp/message_api/v1/message_api.proto"]);
    expect(descriptors(nested!).map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
    expect(descriptors(byName!).map((f) => f.name)).toEqual(["grpc/health/v1/health.proto"]);
    // The descriptors alone describe the wire format: an Envelope encoded with them decodes here.
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: api }));
    const dynamic = registry.getMessage("xmtp.message_api.v1.Envelope");
    expect(dynamic).toBeDefined();
    const env = create(EnvelopeSchema, {
      contentTopic: "/xmtp/0/m-r/proto",
      timestampNs: 7n,
      message: new Uint8Array([1]),
    });
    const viaDynamic = fromBinary(dynamic!, toBinary(EnvelopeSchema, env)) as unknown as {
      contentTopic: string;
    };
    expect(viaDynamic.contentTopic).toBe("/xmtp/0/m-r/proto");
  });

  test("unknown names and empty requests get an error response; the stream keeps answering", async () => {
    const [unknown, missingFile, empty, ext, after] = await ask(
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
      { messageRequest: { case: "fileByFilename", value: "nope.proto" } },
      {},
      { messageRequest: { case: "allExtensionNumbersOfType", value: "xmtp.message_api.v1.Envelope" } },
      { messageRequest: { case: "listServices", value: "" } },
    );
    for (const [res, code] of [
      [unknown, 5],
      [missingFile, 5],
      [empty, 3],
    ] as const) {
      expect(res?.messageResponse.case).toBe("errorResponse");
      expect(res?.messageResponse.case === "errorResponse" && res.messageResponse.value.errorCode).toBe(code);
    }
    expect(unknown?.originalRequest?.messageRequest.value).toBe("no.such.Thing");
    expect(
      unknown?.messageResponse.case === "errorResponse" && unknown.messageResponse.value.errorMessage,
    ).toBe('symbol "no.such.Thing" not found');
    const [long] = await ask({
      messageRequest: { case: "fileContainingSymbol", value: "x".repeat(100_000) },
    });
    expect(
      long?.messageResponse.case === "errorResponse" && long.messageResponse.value.errorMessage.length,
    ).toBeLessThan(300);
    expect(ext?.messageResponse.case).toBe("allExtensionNumbersResponse");
    expect(after?.messageResponse.case).toBe("listServicesResponse");
  });

  test("v1alpha answers the same", async () => {
    const client = createClient(reflectionV1alpha.ServerReflection, transport);
    async function* reqs() {
      yield create(reflectionV1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" },
      });
    }
    const out: reflectionV1alpha.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(reqs())) out.push(res);
    expect(out).toHaveLength(1);
    expect(out[0]?.messageResponse.case).toBe("fileDescriptorResponse");
    expect(out[0]?.originalRequest?.messageRequest.value).toBe("grpc.health.v1.Health");
  });
});
