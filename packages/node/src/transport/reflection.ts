/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, the same protocol under two package
 * names): lists the served services and hands out their file descriptors, so grpcurl, grpcui and
 * Postman work against the gRPC port without local .proto files.
 */
import {
  create,
  type DescFile,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { reflectionV1, reflectionV1alpha } from "@xmtp-ts/proto";
import { Code } from "@xmtp-ts/protocol";

/** What both versions' requests share: the case and value of `message_request`. */
interface Request {
  messageRequest: { case: string | undefined; value?: unknown };
}

/** The v1 response without `original_request` (the route adds it; v1alpha is converted). */
type Answer = reflectionV1.ServerReflectionResponse;
type AnswerInit = Pick<
  MessageInitShape<typeof reflectionV1.ServerReflectionResponseSchema>,
  "messageResponse"
>;

/** Fully qualified names (messages, enums, services, methods) and file names → their file. */
interface Index {
  services: string[];
  bySymbol: Map<string, DescFile>;
  byFileName: Map<string, DescFile>;
}

function buildIndex(files: DescFile[], services: string[]): Index {
  const bySymbol = new Map<string, DescFile>();
  const byFileName = new Map<string, DescFile>();
  const addMessage = (m: DescMessage) => {
    bySymbol.set(m.typeName, m.file);
    for (const e of m.nestedEnums) bySymbol.set(e.typeName, m.file);
    for (const n of m.nestedMessages) addMessage(n);
  };
  const addFile = (f: DescFile) => {
    if (byFileName.has(f.proto.name)) return;
    byFileName.set(f.proto.name, f);
    for (const m of f.messages) addMessage(m);
    for (const e of f.enums) bySymbol.set(e.typeName, f);
    for (const s of f.services) {
      bySymbol.set(s.typeName, f);
      for (const m of s.methods) bySymbol.set(`${s.typeName}.${m.name}`, f);
    }
    for (const d of f.dependencies) addFile(d);
  };
  for (const f of files) addFile(f);
  return { services, bySymbol, byFileName };
}

/** The file and every file it imports, each once, the file first. */
function withDependencies(file: DescFile): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    for (const d of f.dependencies) visit(d);
  };
  visit(file);
  return out;
}

function answer(index: Index, req: Request): Answer {
  return create(reflectionV1.ServerReflectionResponseSchema, answerInit(index, req));
}

function answerInit(index: Index, req: Request): AnswerInit {
  const error = (errorCode: Code, errorMessage: string): AnswerInit => ({
    messageResponse: { case: "errorResponse", value: { errorCode, errorMessage } },
  });
  const files = (f: DescFile | undefined, what: string): AnswerInit =>
    f === undefined
      ? error(Code.NotFound, `${what} not found`)
      : {
          messageResponse: {
            case: "fileDescriptorResponse",
            value: { fileDescriptorProto: withDependencies(f) },
          },
        };
  const { case: kind, value } = req.messageRequest;
  const name = typeof value === "string" ? value : "";
  // Names are echoed in errors; a long one is cut (the request itself comes back whole).
  const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}…` : name);
  switch (kind) {
    case "listServices":
      return {
        messageResponse: {
          case: "listServicesResponse",
          value: { service: index.services.map((n) => ({ name: n })) },
        },
      };
    case "fileByFilename":
      return files(index.byFileName.get(name), `file ${shown}`);
    case "fileContainingSymbol":
      return files(index.bySymbol.get(name), `symbol ${shown}`);
    case "allExtensionNumbersOfType":
      // The served files declare no extensions.
      return index.bySymbol.has(name)
        ? {
            messageResponse: {
              case: "allExtensionNumbersResponse",
              value: { baseTypeName: name, extensionNumber: [] },
            },
          }
        : error(Code.NotFound, `type ${shown} not found`);
    case "fileContainingExtension":
      return error(Code.NotFound, "extension not found");
    default:
      return error(Code.InvalidArgument, "empty reflection request");
  }
}

/**
 * Routes for both reflection versions over `files` (the files of the served services), listing
 * `services` plus the reflection services themselves.
 */
export function reflectionRoutes(files: DescFile[], services: string[]): (router: ConnectRouter) => void {
  const own = [reflectionV1.ServerReflection, reflectionV1alpha.ServerReflection];
  const index = buildIndex(
    [...files, ...own.map((s) => s.file)],
    [...services, ...own.map((s) => s.typeName)],
  );
  return (router) => {
    router.service(reflectionV1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          const res = answer(index, req);
          res.originalRequest = req;
          yield res;
        }
      },
    });
    // v1alpha has the same fields and numbers as v1.
    router.service(reflectionV1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        for await (const req of requests) {
          const v1 = toBinary(reflectionV1.ServerReflectionResponseSchema, answer(index, req));
          const res = fromBinary(reflectionV1alpha.ServerReflectionResponseSchema, v1);
          res.originalRequest = req;
          yield res;
        }
      },
    });
  };
}
